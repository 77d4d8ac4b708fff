"""Chapter 01's measurements of the raw index: what grows, what saturates, what LayerNorm hides."""

import math

import pytest
import torch

from course_lib import (
    IntegerPosition, NoPositions, TinyTransformer, attention_entropy, layernorm_cosine, length_sweep,
)


def test_entropy_matches_torch_categorical_and_its_bounds():
    weights = torch.softmax(torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0)), dim=-1)
    reference = torch.distributions.Categorical(probs=weights).entropy()
    assert torch.allclose(attention_entropy(weights), reference, atol=1e-6)
    assert torch.allclose(attention_entropy(torch.full((4, 4), 0.25)), torch.full((4,), math.log(4)))
    assert torch.equal(attention_entropy(torch.eye(3)), torch.zeros(3))


def test_adding_the_index_to_every_feature_is_invisible_to_a_layernormed_model():
    """LayerNorm subtracts each token's mean over features, which removes a constant shift p*(1,...,1)."""
    torch.manual_seed(0)
    with_add = TinyTransformer(10, 4, d_model=16, num_layers=2, position=IntegerPosition("add"), pool=None).eval()
    blind = TinyTransformer(10, 4, d_model=16, num_layers=2, position=NoPositions(), pool=None).eval()
    blind.load_state_dict(with_add.state_dict())
    tokens = torch.randint(10, (3, 40))
    with torch.no_grad():
        assert torch.allclose(with_add(tokens), blind(tokens), atol=1e-3)


def test_concatenated_index_swamps_tokens_after_layernorm():
    assert layernorm_cosine(1024) > 0.999
    assert layernorm_cosine(1024) > layernorm_cosine(0) + 0.5


@pytest.fixture(scope="module")
def sweeps():
    lengths = [8, 128, 1024]
    return {block: length_sweep(lengths, block, seeds=3) for block in ("attention", "pre_ln_block")}


def test_features_grow_like_n_and_plain_logits_like_n_squared(sweeps):
    plain = sweeps["attention"]
    assert all(norm >= n - 1 for norm, n in zip(plain["feature_norm"], plain["length"]))
    ratio = plain["max_logit"][2] / plain["max_logit"][1]   # n grows 8x from 128 to 1024
    assert 40 < ratio < 90, f"expected about 8**2 = 64, got {ratio:.1f}"


def test_plain_attention_saturates_while_prelayernorm_attention_goes_uniform(sweeps):
    plain, block = sweeps["attention"], sweeps["pre_ln_block"]
    assert plain["entropy"][2] < 0.1 * plain["log_n"][2], "plain softmax collapses onto one key"
    assert block["entropy"][2] > 0.99 * block["log_n"][2], "after LayerNorm all tokens look alike"


def test_gradients_do_not_explode(sweeps):
    """The textbook says 'exploding gradients'; measured, neither layer's gradient explodes."""
    plain, block = sweeps["attention"], sweeps["pre_ln_block"]
    assert plain["grad_norm"][2] < 10 * plain["grad_norm"][0]
    assert block["grad_norm"][2] < block["grad_norm"][0] / 5, "the pre-LN block's gradient shrinks"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: attention_entropy(torch.tensor([0.5, 0.6])), "each row summing to 1"),
        (lambda: attention_entropy(torch.tensor([1.5, -0.5])), "non-negative"),
        (lambda: attention_entropy([0.5, 0.5]), "torch.Tensor"),
        (lambda: layernorm_cosine(-1), "position must be at least 0"),
        (lambda: layernorm_cosine(3, d_model=2), "d_model must be at least 3"),
        (lambda: length_sweep([8], block="mlp"), "block must be one of 'attention', 'pre_ln_block'"),
        (lambda: length_sweep([]), "at least one sequence length"),
        (lambda: length_sweep([8, 0]), "each length must be at least 1"),
        (lambda: length_sweep([8], seeds=0), "seeds must be at least 1"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
