"""course_lib.attention: cross-checked against PyTorch's own attention, and its symmetry proved."""

import itertools

import pytest
import torch
from torch.nn import functional as F

from course_lib import (
    IntegerPosition,
    LearnedPositions,
    NoPositions,
    SelfAttention,
    TinyTransformer,
    attention_logits,
    causal_mask,
    scaled_dot_product_attention,
)

gen = torch.Generator().manual_seed(0)


def rand(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=gen, dtype=dtype)


@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 7, 4), (1, 1, 16)])
def test_matches_torch_reference(shape):
    q, k, v = rand(*shape), rand(*shape), rand(*shape[:-1], 6)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(shape[:-1]), atol=1e-6)


def test_causal_and_bias_match_torch_reference():
    q, k, v = rand(2, 6, 4), rand(2, 6, 4), rand(2, 6, 4)
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5)
    assert torch.all(weights.triu(1) == 0), "no query may look at a later key"
    bias = rand(6, 6)
    out, _ = scaled_dot_product_attention(q, k, v, bias=bias)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=bias), atol=1e-5)


def test_different_numbers_of_queries_and_keys():
    out, weights = scaled_dot_product_attention(rand(3, 4), rand(5, 4), rand(5, 2))
    assert out.shape == (3, 2) and weights.shape == (3, 5)


def test_scaling_is_by_sqrt_of_width():
    q, k = rand(1, 9), rand(2, 9)
    _, weights = scaled_dot_product_attention(q, k, k)
    expected = torch.softmax(q @ k.T / 3.0, dim=-1)  # sqrt(9) = 3
    assert torch.allclose(weights, expected, atol=1e-6)


def test_self_attention_logits_are_what_forward_softmaxes():
    torch.manual_seed(0)
    layer = SelfAttention(8, num_heads=2)
    x = rand(3, 5, 8)
    layer(x, NoPositions(), torch.arange(5))
    logits = layer.logits(x)
    assert logits.shape == (3, 2, 5, 5)
    assert torch.allclose(logits.softmax(-1), layer.last_weights, atol=1e-6)
    q, k, _ = layer.project(x)
    assert torch.allclose(logits, attention_logits(q, k)) and torch.allclose(
        attention_logits(q, k), q @ k.transpose(-2, -1) / 2.0, atol=1e-6)  # sqrt(head_dim=4) = 2


def test_causal_mask():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_self_attention_is_permutation_equivariant(perm):
    x, w = rand(4, 6), [rand(6, 6) for _ in range(3)]

    def attend(t):
        return scaled_dot_product_attention(t @ w[0], t @ w[1], t @ w[2])[0]

    perm = list(perm)
    assert torch.allclose(attend(x[perm]), attend(x)[perm], atol=1e-5)


def test_causal_attention_is_not_permutation_equivariant():
    x = rand(4, 6)

    def attend(t):
        return scaled_dot_product_attention(t, t, t, causal=True)[0]

    assert not torch.allclose(attend(x[[3, 2, 1, 0]]), attend(x)[[3, 2, 1, 0]], atol=1e-3)


def test_tiny_transformer_without_positions_is_order_blind():
    torch.manual_seed(0)
    per_token = TinyTransformer(10, 4, d_model=16, num_heads=2, num_layers=3, pool=None).eval()
    tokens = torch.tensor([[1, 5, 7, 2]])
    perm = [2, 0, 3, 1]
    with torch.no_grad():
        assert torch.allclose(per_token(tokens[:, perm]), per_token(tokens)[:, perm], atol=1e-5)
    torch.manual_seed(0)
    pooled = TinyTransformer(10, 4, d_model=16, num_heads=2, num_layers=3).eval()
    with torch.no_grad():
        assert torch.allclose(pooled(tokens[:, perm]), pooled(tokens), atol=1e-5)


def test_reading_the_first_row_is_itself_a_position_signal():
    torch.manual_seed(0)
    model = TinyTransformer(10, 4, d_model=16, pool="first").eval()
    tokens = torch.tensor([[1, 5, 7]])
    with torch.no_grad():
        # "first" reads whichever token stands first: a reordering changes the answer...
        assert not torch.allclose(model(tokens[:, [2, 1, 0]]), model(tokens), atol=1e-4)
        # ...and equals the mean-free readout of the per-token stack at row 0.
        per_token = TinyTransformer(10, 4, d_model=16, pool=None).eval()
        per_token.load_state_dict(model.state_dict())
        assert torch.allclose(per_token(tokens)[:, 0], model(tokens), atol=1e-6)


@pytest.mark.parametrize(
    "scheme", [lambda: IntegerPosition("concat"), lambda: LearnedPositions(8, 16)]
)
def test_a_position_scheme_breaks_the_symmetry(scheme):
    torch.manual_seed(0)
    model = TinyTransformer(10, 4, d_model=16, position=scheme()).eval()
    tokens = torch.tensor([[1, 5, 7]])
    with torch.no_grad():
        assert not torch.allclose(model(tokens[:, [2, 1, 0]]), model(tokens), atol=1e-4)


def test_output_shapes_and_kept_weights():
    model = TinyTransformer(10, 4, d_model=16, num_heads=4, num_layers=2, pool=None)
    logits = model(torch.randint(10, (3, 5)))
    assert logits.shape == (3, 5, 4)
    assert [w.shape for w in model.attention_weights] == [(3, 4, 5, 5)] * 2


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: scaled_dot_product_attention([[1.0]], torch.ones(1, 1), torch.ones(1, 1)),
            "torch.Tensor",
        ),
        (
            lambda: scaled_dot_product_attention(torch.ones(3), torch.ones(3), torch.ones(3)),
            "at least 2",
        ),
        (
            lambda: scaled_dot_product_attention(
                torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 4)
            ),
            "same last dimension",
        ),
        (
            lambda: scaled_dot_product_attention(
                torch.ones(2, 3), torch.ones(2, 3), torch.ones(5, 3)
            ),
            "one row per key",
        ),
        (
            lambda: scaled_dot_product_attention(
                torch.ones(2, 3), torch.ones(4, 3), torch.ones(4, 3), causal=True
            ),
            "as many queries as keys",
        ),
        (
            lambda: scaled_dot_product_attention(
                torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3), torch.ones(2, 3)
            ),
            "floating-point",
        ),
        (lambda: causal_mask(0), "at least 1"),
        (lambda: SelfAttention(10, 3), "divisible by num_heads"),
        (lambda: TinyTransformer(10, 4, pool="max"), "pool must be one of"),
        (lambda: TinyTransformer(10, 4, position="sinusoidal"), "PositionScheme"),
        (lambda: TinyTransformer(10, 1), "num_classes must be at least 2"),
        (lambda: TinyTransformer(10, 4, d_model=1, position=IntegerPosition("concat")), "no room"),
        (lambda: TinyTransformer(10, 4)(torch.ones(2, 3)), "integer token ids"),
        (lambda: TinyTransformer(10, 4)(torch.ones(3, dtype=torch.long)), "at least 2 dimensions"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
