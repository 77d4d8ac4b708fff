"""Chapter 06: T5's relative position buckets and bias, and ALiBi, cross-checked against HF
transformers' T5 and Bloom."""

import math

import pytest
import torch

from course_lib import (
    ALiBiPositions,
    T5RelativeBias,
    TinyTransformer,
    alibi_bias,
    alibi_slopes,
    causal_mask,
    t5_relative_position_bucket,
)


@pytest.mark.parametrize("num_heads", list(range(1, 41)) + [64, 96])
def test_alibi_slopes_match_bloom_for_any_head_count(num_heads):
    from transformers.models.bloom.modeling_bloom import _get_alibi_slopes

    assert torch.allclose(
        alibi_slopes(num_heads), _get_alibi_slopes(num_heads, torch.device("cpu")), rtol=1e-6
    )


def test_alibi_slopes_are_the_papers_for_8_and_12_heads():
    eight = [2.0 ** -k for k in range(1, 9)]
    assert alibi_slopes(8).tolist() == pytest.approx(eight)
    assert alibi_slopes(12).tolist() == pytest.approx(eight + [2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5])


def test_alibi_bias_gives_blooms_attention_weights():
    """Bloom adds slope·j (not −slope·(i − j)): the two differ by slope·i per row, which softmax
    ignores."""
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    heads, seq = 12, 9
    logits = torch.randn(heads, seq, seq, generator=torch.Generator().manual_seed(0))
    bloom = build_alibi_tensor(torch.ones(1, seq), heads, torch.float32)          # (heads, 1, seq)
    masked = ~causal_mask(seq)
    ours = (logits + alibi_bias(heads, seq, causal=True)).masked_fill(masked, -math.inf).softmax(-1)
    theirs = (logits + bloom).masked_fill(masked, -math.inf).softmax(-1)
    assert torch.allclose(ours, theirs, atol=1e-6)
    # 2 heads: slopes 2^-4, 2^-8
    assert torch.equal(alibi_bias(2, 4)[0], -0.0625 * torch.tensor(
        [[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], dtype=torch.float32))


@pytest.mark.parametrize(
    "bidirectional, num_buckets, max_distance",
    [(True, 32, 128), (False, 32, 128), (True, 16, 40), (False, 8, 20)],
)
def test_t5_buckets_match_hf_t5(bidirectional, num_buckets, max_distance):
    from transformers.models.t5.modeling_t5 import T5Attention

    offsets = torch.arange(-400, 401)[None, :]
    reference = T5Attention._relative_position_bucket(
        offsets, bidirectional, num_buckets, max_distance
    )
    ours = t5_relative_position_bucket(offsets, bidirectional, num_buckets, max_distance)
    assert torch.equal(ours, reference)
    assert ours.min() >= 0 and ours.max() < num_buckets


def test_t5_bias_matches_hf_compute_bias():
    from transformers import T5Config
    from transformers.models.t5.modeling_t5 import T5Attention

    config = T5Config(d_model=32, d_kv=8, num_heads=4, relative_attention_num_buckets=32,
                      relative_attention_max_distance=128)
    attention = T5Attention(config, has_relative_attention_bias=True)
    ours = T5RelativeBias(num_heads=4)
    with torch.no_grad():
        ours.bias.weight.copy_(attention.relative_attention_bias.weight)
    assert torch.allclose(ours.attention_bias(20), attention.compute_bias(20, 20), atol=0)


def test_bias_schemes_plug_into_a_model_and_stay_shift_invariant():
    for scheme in (ALiBiPositions(2), T5RelativeBias(2)):
        bias = scheme.attention_bias(12)
        assert bias.shape == (1, 2, 12, 12)
        # The bias depends on j − i only: shifting both by one changes nothing.
        assert torch.equal(bias[..., 1:, 1:], bias[..., :-1, :-1])
        model = TinyTransformer(10, 3, d_model=16, num_heads=2, position=scheme)
        assert model(torch.randint(10, (2, 12))).shape == (2, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: alibi_slopes(0), "num_heads must be at least 1"),
        (lambda: alibi_slopes(2.5), "num_heads must be a whole number"),
        (lambda: alibi_bias(4, 0), "seq_len must be at least 1"),
        (lambda: t5_relative_position_bucket(torch.tensor([0.5])), "whole-number offsets"),
        (lambda: t5_relative_position_bucket([1, 2]), "must be a torch.Tensor"),
        (
            lambda: t5_relative_position_bucket(torch.tensor([1]), num_buckets=8, max_distance=2),
            "must exceed",
        ),
        (lambda: T5RelativeBias(0), "num_heads must be at least 1"),
    ],
)
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_shaw_relative_logits_are_q_dot_the_clipped_offsets_vector():
    from course_lib import shaw_relative_logits

    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 7, 4, generator=gen, dtype=torch.float64)
    clip = 2
    table = torch.randn(2 * clip + 1, 4, generator=gen, dtype=torch.float64)
    by_hand = torch.empty(2, 3, 7, 7, dtype=torch.float64)
    for i in range(7):
        for j in range(7):
            a = table[max(-clip, min(clip, j - i)) + clip]
            by_hand[..., i, j] = q[..., i, :] @ a / 2.0          # √d = 2
    assert torch.allclose(shaw_relative_logits(q, table, clip), by_hand)


def test_shaw_keys_in_a_model_add_their_term_to_the_scores():
    """SelfAttention adds query_bias(q) to the logits: weights = softmax(qkᵀ/√d + q·a/√d)."""
    from course_lib import ShawRelativeKeys, shaw_relative_logits
    from course_lib.attention import SelfAttention

    torch.manual_seed(0)
    attention, scheme = SelfAttention(8, num_heads=2), ShawRelativeKeys(4, clip=3)
    x = torch.randn(1, 6, 8)
    attention(x, scheme, torch.arange(6))
    q, k, _ = attention.project(x)
    expected = (q @ k.mT / 2 + shaw_relative_logits(q, scheme.relative_keys, 3)).softmax(-1)
    assert torch.allclose(attention.last_weights, expected, atol=1e-6)


def test_t5_init_std_scales_the_starting_table():
    torch.manual_seed(0)
    wide = T5RelativeBias(8, num_buckets=64).bias.weight.std().item()
    torch.manual_seed(0)
    narrow = T5RelativeBias(8, num_buckets=64, init_std=32**-0.5).bias.weight.std().item()
    assert narrow == pytest.approx(wide * 32**-0.5, rel=1e-5)
    with pytest.raises(ValueError, match="init_std must be positive"):
        T5RelativeBias(2, init_std=0.0)


@pytest.mark.parametrize("make", [lambda: ALiBiPositions(4), lambda: T5RelativeBias(4),
                                  lambda: __import__("course_lib").ShawRelativeKeys(8, clip=2)])
def test_bias_schemes_follow_the_model_to_its_device(make):
    model = TinyTransformer(10, 10, d_model=32, num_heads=4, position=make(), pool=None)
    model = model.to("meta")
    out = model(torch.zeros(2, 9, dtype=torch.long, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 9, 10)
    assert alibi_bias(3, 5, device="meta").device.type == "meta"


def test_shaw_bad_input_is_explained():
    from course_lib import ShawRelativeKeys, shaw_relative_logits

    with pytest.raises(ValueError, match="clip must be at least 0"):
        ShawRelativeKeys(8, clip=-1)
    with pytest.raises(ValueError, match=r"shape \(2·clip \+ 1, d\)"):
        shaw_relative_logits(torch.randn(3, 4), torch.randn(3, 4), clip=2)


def test_relative_positions_view_shows_the_slopes_bias_and_buckets():
    from course_lib.explorers import draw_relative_positions, relative_positions_view

    view = relative_positions_view(num_heads=6, seq_len=5, offset=-20)
    assert torch.equal(view["slopes"], alibi_slopes(6)) and not view["monotone"]
    assert relative_positions_view(num_heads=8)["monotone"]
    assert torch.equal(view["bias"], alibi_bias(6, 5))
    assert view["bucket_bidirectional"] == int(t5_relative_position_bucket(torch.tensor(-20)))
    assert view["bucket_causal"] == int(t5_relative_position_bucket(torch.tensor(-20), False))
    import matplotlib.pyplot as plt

    assert draw_relative_positions(3, 4, 7) is not None
    plt.close("all")
    with pytest.raises(ValueError, match="num_heads must be at least 1"):
        relative_positions_view(num_heads=0)
