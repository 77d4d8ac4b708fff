"""Chapter 01's measurements of the raw index: what grows, what saturates, what LayerNorm hides."""

import math

import pytest
import torch

from course_lib import (
    IntegerPosition,
    NoPositions,
    TinyTransformer,
    attention_entropy,
    layernorm_cosine,
    length_sweep,
)
from course_lib.integer_position import training_gradients


def test_entropy_matches_torch_categorical_and_its_bounds():
    weights = torch.softmax(
        torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    reference = torch.distributions.Categorical(probs=weights).entropy()
    assert torch.allclose(attention_entropy(weights), reference, atol=1e-6)
    assert torch.allclose(
        attention_entropy(torch.full((4, 4), 0.25)), torch.full((4,), math.log(4))
    )
    assert torch.equal(attention_entropy(torch.eye(3)), torch.zeros(3))


def test_adding_the_index_to_every_feature_is_invisible_to_a_layernormed_model():
    """LayerNorm subtracts each token's mean over features, which removes a constant shift
    p*(1,...,1)."""
    torch.manual_seed(0)
    with_add = TinyTransformer(
        10, 4, d_model=16, num_layers=2, position=IntegerPosition("add"), pool=None
    ).eval()
    blind = TinyTransformer(
        10, 4, d_model=16, num_layers=2, position=NoPositions(), pool=None
    ).eval()
    blind.load_state_dict(with_add.state_dict())
    tokens = torch.randint(10, (3, 40))
    with torch.no_grad():
        assert torch.allclose(with_add(tokens), blind(tokens), atol=1e-3)


def test_concatenated_index_swamps_tokens_and_positions_after_layernorm():
    assert abs(layernorm_cosine(0)) < 0.1, "random tokens are unrelated at position 0"
    assert layernorm_cosine(1024) > 0.999
    assert layernorm_cosine(256, other_position=1024) > 0.999, "late positions look alike too"


@pytest.fixture(scope="module")
def plain():
    return length_sweep([8, 128, 1024], "attention", seeds=20)


def test_features_grow_like_n_and_plain_logits_like_n_squared(plain):
    assert torch.all(plain["feature_norm"] >= torch.tensor([[7.0], [127.0], [1023.0]]))
    ratio = plain["max_logit"][2].median() / plain["max_logit"][1].median()
    assert 40 < ratio < 90, f"expected about (1023/127)**2 = 64.9, got {ratio:.1f}"
    assert plain["entropy"][2].median() < 0.1 * plain["log_n"][2], (
        "plain softmax collapses onto one key"
    )


def test_whether_plain_gradients_explode_depends_on_the_sign_of_the_index_weights(plain):
    growth = plain["grad_norm"][2] / plain["grad_norm"][0]
    sign = plain["index_qk"][0]
    assert (growth > 100).sum() >= 5 and (growth < 10).sum() >= 5, growth
    assert torch.all(sign[growth > 100] > 0), (
        "explosions come from attention locking onto the last key"
    )
    assert torch.all(growth[sign < 0] < 100)
    # The sign also decides where a saturated late query looks: near the end iff w_Q . w_K > 0.
    assert torch.equal(plain["last_row_top_key"][2] > 1024 / 2, plain["index_qk"][2] > 0)


def test_softmax_slope_is_the_trace_of_torchs_softmax_jacobian():
    """length_sweep's "softmax_slope" is 1 - sum_j w_j^2; check that identity against autograd."""
    logits = torch.randn(6, generator=torch.Generator().manual_seed(0)) * 3
    jacobian = torch.autograd.functional.jacobian(lambda a: torch.softmax(a, dim=-1), logits)
    w = torch.softmax(logits, dim=-1)
    assert torch.allclose(torch.trace(jacobian), 1 - w.pow(2).sum(), atol=1e-6)


def test_gradient_split_covers_the_whole_plain_layer(plain):
    """The plain layer's parameters are qkv and proj: the two paths add up to the whole gradient."""
    whole = (plain["grad_qk"] ** 2 + plain["grad_value"] ** 2).sqrt()
    assert torch.allclose(whole, plain["grad_norm"], rtol=1e-4)


def test_value_path_grows_with_the_inputs_while_the_saturated_softmax_starves_query_key(plain):
    value_growth = plain["grad_value"][2] / plain["grad_value"][0]
    sign = plain["index_qk"][0]
    assert (value_growth > 100).sum() >= 5 and torch.all(sign[value_growth > 100] > 0)
    slope = plain["softmax_slope"]
    n = torch.tensor(plain["length"], dtype=torch.float32)[:, None]
    assert torch.all((slope > 0) & (slope <= 1 - 1 / n + 1e-6)), "trace of a softmax Jacobian"
    assert torch.all(slope[2] < slope[0]) and slope[2].median() < 0.1
    share = (plain["grad_qk"] / plain["grad_value"]).median(dim=1).values
    assert share[2] < share.max() / 3, "W_Q, W_K get a shrinking part of the gradient"


def test_training_with_the_raw_index_learns_at_16_and_stalls_at_chance_at_128():
    uniform = torch.nn.functional.cross_entropy(torch.zeros(1, 16), torch.tensor([0])).item()
    short = training_gradients(16, "attention", seeds=2)
    long = training_gradients(128, "attention", seeds=2)
    assert short["loss"].shape == (2, 150) and long["grad_qk"].shape == (2, 150)
    assert torch.all(short["loss"][:, -20:].mean(1) < uniform - 0.2)
    assert torch.all((long["loss"][:, -20:].mean(1) - uniform).abs() < 0.05)
    assert long["grad_qk"][:, -20:].max() < short["grad_qk"][:, -20:].min() / 5


def test_prelayernorm_gradient_trend_is_set_by_the_final_layernorm():
    with_final = (
        length_sweep([8, 1024], "pre_ln_block", seeds=10, final_ln=True)["grad_norm"]
        .median(dim=1)
        .values
    )
    without = (
        length_sweep([8, 1024], "pre_ln_block", seeds=10, final_ln=False)["grad_norm"]
        .median(dim=1)
        .values
    )
    assert with_final[1] < with_final[0] / 5
    assert without[1] > without[0]


def test_prelayernorm_attention_is_uniform_at_init_with_or_without_the_index():
    for with_index in (True, False):
        sweep = length_sweep([8, 1024], "pre_ln_block", seeds=5, with_index=with_index)
        assert torch.all(
            sweep["entropy"].median(dim=1).values > 0.95 * torch.tensor(sweep["log_n"])
        )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: attention_entropy(torch.tensor([0.5, 0.6])), "each row summing to 1"),
        (lambda: attention_entropy(torch.tensor([1.5, -0.5])), "non-negative"),
        (lambda: attention_entropy([0.5, 0.5]), "torch.Tensor"),
        (lambda: layernorm_cosine(-1), "position must be at least 0"),
        (lambda: layernorm_cosine(3, d_model=2), "d_model must be at least 3"),
        (lambda: layernorm_cosine(3, other_position=-2), "other_position must be at least 0"),
        (lambda: layernorm_cosine(3, pairs=0), "pairs must be at least 1"),
        (
            lambda: length_sweep([8], block="mlp"),
            "block must be one of 'attention', 'pre_ln_block'",
        ),
        (lambda: length_sweep([]), "at least one sequence length"),
        (lambda: length_sweep([8, 0]), "each length must be at least 1"),
        (lambda: length_sweep([8], seeds=0), "seeds must be at least 1"),
        (lambda: training_gradients(3), "seq_len must be at least 4"),
        (
            lambda: training_gradients(16, block="mlp"),
            "block must be one of 'attention', 'pre_ln_block'",
        ),
        (lambda: training_gradients(16, steps=0), "steps must be at least 1"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
