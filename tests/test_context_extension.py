"""Chapter 07: RoPE context extension inside a model, cross-checked against HF transformers'
rotary embedding (``LlamaRotaryEmbedding`` with ``rope_parameters``, v5) and
``apply_rotary_pos_emb``; the dynamic-NTK KV-cache decode against HF's dynamic rotary embedding,
and the explorer's view."""

import math

import pytest
import torch

from course_lib.context_extension import (
    ScaledRotaryPositions,
    dynamic_ntk_attention,
    dynamic_ntk_decode,
    fine_tune_copy_model,
    with_position,
)
from course_lib.explorers.context_extension import context_extension_view, draw_context_extension
from course_lib.rope import RotaryPositions
from course_lib.rope_scaling import pair_regions

LLAMA3 = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}


def _hf_rotary(head_dim, base, rope_parameters, max_len):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = LlamaConfig(hidden_size=head_dim * 2, num_attention_heads=2, head_dim=head_dim,
                         max_position_embeddings=max_len,
                         rope_parameters={"rope_theta": base, **rope_parameters})
    return LlamaRotaryEmbedding(config)


def _hf_rotate(rotary, q, k, positions):
    """HF's rotation of interleaved q, k (batch, heads, seq, d): pairs (2i, 2i+1) moved to HF's
    half-split places (i, i + d/2), rotated by HF, and moved back."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    d = q.shape[-1]
    to_half = torch.cat((torch.arange(0, d, 2), torch.arange(1, d, 2)))
    back = torch.argsort(to_half)
    cos, sin = rotary(q, positions[None])
    q_hf, k_hf = apply_rotary_pos_emb(q[..., to_half], k[..., to_half], cos, sin)
    return q_hf[..., back], k_hf[..., back]


HF_KINDS = {
    "linear": ({"rope_type": "linear", "factor": 4.0}, {}),
    "yarn": ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}, {}),
    "llama3": ({"rope_type": "llama3", "factor": 4.0, "original_max_position_embeddings": 16,
                **LLAMA3}, LLAMA3),
}


@pytest.mark.parametrize("kind", sorted(HF_KINDS))
@pytest.mark.parametrize("base, length", [(10000.0, 16), (100.0, 64)])
def test_scaled_rotary_positions_rotate_as_hf_does(kind, base, length):
    hf_params, ours = HF_KINDS[kind]
    if "original_max_position_embeddings" in hf_params:
        hf_params = {**hf_params, "original_max_position_embeddings": length}
    q, k = torch.randn(2, 1, 2, 4 * length, 16, generator=torch.Generator().manual_seed(1))
    positions = torch.arange(4 * length)
    rotary = _hf_rotary(16, base, hf_params, 4 * length)
    scheme = ScaledRotaryPositions(16, base, kind, 4.0, length, **ours)
    for got, want in zip(scheme.rotate(q, k, positions), _hf_rotate(rotary, q, k, positions)):
        torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("seq", [8, 16, 40])
def test_dynamic_scheme_matches_hf_dynamic_rotary_at_each_length(seq):
    q, k = torch.randn(2, 1, 2, seq, 16, generator=torch.Generator().manual_seed(2))
    positions = torch.arange(seq)
    rotary = _hf_rotary(16, 10000.0, {"rope_type": "dynamic", "factor": 4.0}, 16)  # fresh: no state
    scheme = ScaledRotaryPositions(16, kind="dynamic", factor=4.0, original_max_len=16)
    for got, want in zip(scheme.rotate(q, k, positions), _hf_rotate(rotary, q, k, positions)):
        torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_kind_none_is_the_course_rope():
    q, k = torch.randn(2, 3, 2, 20, 16, generator=torch.Generator().manual_seed(3))
    positions = torch.arange(20)
    for got, want in zip(ScaledRotaryPositions(16).rotate(q, k, positions),
                         RotaryPositions(16).rotate(q, k, positions)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind, params", [("linear", {}), ("dynamic", {}), ("llama3", LLAMA3),
                                          ("yarn", {"beta_fast": 16.0})])
def test_scaled_rotary_positions_is_rotary_positions_with_a_scaling(kind, params):
    scheme = ScaledRotaryPositions(16, 500.0, kind, 2.0, 8, **params)
    assert isinstance(scheme, RotaryPositions) and scheme.kind == scheme.scaling == kind
    assert (scheme.base, scheme.factor, scheme.original_max_len) == (500.0, 2.0, 8)
    same = RotaryPositions(16, 500.0, scaling=kind, factor=2.0, original_max_len=8, **params)
    q, k = torch.randn(2, 2, 3, 30, 16, generator=torch.Generator().manual_seed(6))
    for got, want in zip(scheme.rotate(q, k, torch.arange(30)),
                         same.rotate(q, k, torch.arange(30))):
        assert torch.equal(got, want)
    assert torch.equal(scheme.inv_freq, same.inv_freq)
    assert scheme.attention_factor == same.attention_factor


def _decode_inputs(seq=40, seed=0):
    return torch.randn(3, 2, seq, 16, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def test_stale_cache_equals_recompute_up_to_the_original_length_and_not_after():
    q, k, v = _decode_inputs()
    gap = (dynamic_ntk_decode(q, k, v, 4.0, 16, cache="stale")
           - dynamic_ntk_attention(q, k, v, 4.0, 16)).abs().amax(dim=(0, 2))
    assert gap[:16].max() < 1e-12
    assert gap[16:].max() > 0.05


def test_recomputed_cache_matches_hf_dynamic_rotary_on_every_prefix():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    q, k, v = _decode_inputs(seq=30, seed=4)
    got = dynamic_ntk_decode(q, k, v, 4.0, 16, cache="recompute")
    to_half = torch.cat((torch.arange(0, 16, 2), torch.arange(1, 16, 2)))
    for t in (0, 15, 16, 29):
        rotary = _hf_rotary(16, 10000.0, {"rope_type": "dynamic", "factor": 4.0}, 16)
        positions = torch.arange(t + 1)
        cos, sin = rotary(q.float(), positions[None])
        q_one, k_all = q[:, None, t:t + 1, to_half].float(), k[:, None, :t + 1, to_half].float()
        q_t = apply_rotary_pos_emb(q_one, q_one, cos[:, t:t + 1], sin[:, t:t + 1])[0]
        k_t = apply_rotary_pos_emb(k_all, k_all, cos, sin)[0]
        row = (q_t @ k_t.mT / 4).softmax(-1) @ v[:, None, :t + 1].float()
        torch.testing.assert_close(got[:, t:t + 1].float(), row[:, 0], rtol=0, atol=1e-5)


def test_fixed_base_decode_is_full_causal_attention_under_the_final_base():
    q, k, v = _decode_inputs(seq=24, seed=5)
    scheme = ScaledRotaryPositions(16, kind="dynamic", factor=4.0, original_max_len=16)
    q_rot, k_rot = scheme.rotate(q[:, None], k[:, None], torch.arange(24))
    mask = torch.ones(24, 24, dtype=torch.bool).tril()
    full = ((q_rot @ k_rot.mT / 4).masked_fill(~mask, float("-inf")).softmax(-1) @ v[:, None])
    torch.testing.assert_close(dynamic_ntk_decode(q, k, v, 4.0, 16, cache="fixed"), full[:, 0],
                               rtol=0, atol=1e-12)


def test_with_position_leaves_the_original_model_alone():
    from course_lib.attention import TinyTransformer

    model = TinyTransformer(16, 16, num_heads=2, position=RotaryPositions(16), pool=None)
    swapped = with_position(model, ScaledRotaryPositions(16, kind="linear", factor=4.0))
    assert isinstance(model.position, RotaryPositions)
    swapped.head.weight.data.zero_()
    assert model.head.weight.abs().sum() > 0


def test_fine_tune_changes_weights_and_leaves_the_cached_model_alone():
    from course_lib.experiments import train_copy_model

    before = train_copy_model("rope", seed=0)
    tuned = fine_tune_copy_model("linear", seed=0, steps=2)
    assert isinstance(tuned.position, ScaledRotaryPositions) and tuned.position.kind == "linear"
    assert not torch.equal(tuned.head.weight, before.head.weight)
    assert torch.equal(train_copy_model("rope", seed=0).head.weight, before.head.weight)


def test_bad_inputs_raise_readable_errors():
    with pytest.raises(ValueError, match="kind"):
        ScaledRotaryPositions(16, kind="ntk-by-parts")
    with pytest.raises(ValueError, match="head_dim=16"):
        ScaledRotaryPositions(16).rotate(torch.zeros(1, 1, 4, 8), torch.zeros(1, 1, 4, 8),
                                         torch.arange(4))
    q, k, v = _decode_inputs(seq=4)
    with pytest.raises(ValueError, match="cache"):
        dynamic_ntk_decode(q, k, v, 4.0, 16, cache="fresh")
    with pytest.raises(ValueError, match="share one shape"):
        dynamic_ntk_decode(q, k[:, :3], v, 4.0, 16)
    with pytest.raises(ValueError, match="factor"):
        dynamic_ntk_attention(q, k, v, 0.5, 16)
    with pytest.raises(ValueError, match="whole length"):
        fine_tune_copy_model("linear", factor=1.5 + 1 / 32)
    with pytest.raises(ValueError, match="PositionScheme"):
        with_position(torch.nn.Linear(2, 2), "rope")


def test_explorer_view_regions_and_wavelengths():
    view = context_extension_view("llama3", 8.0, 128, 500000.0, 8192)
    assert [view["regions"].count(r) for r in ("kept", "blended", "divided")] == [29, 6, 29]
    exponents = torch.arange(0, 128, 2, dtype=torch.float64) / 128
    torch.testing.assert_close(view["before"], 2 * math.pi * 500000.0**exponents)
    ntk = context_extension_view("ntk", 4.0)
    torch.testing.assert_close(ntk["after"][-1], ntk["before"][-1] * 4)
    assert ntk["regions"][0] == "kept" and set(ntk["regions"][1:]) == {"changed"}
    assert context_extension_view("yarn", 4.0, 16, 100.0, 64)["regions"] == pair_regions(
        16, 100.0, "yarn", 4.0, 64)
    with pytest.raises(ValueError, match="kind"):
        context_extension_view("dynamic")
    draw_context_extension("yarn", 4.0, legend=False)
