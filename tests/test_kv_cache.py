"""Chapter 05: decoding with a KV cache under RoPE, cross-checked against HF transformers
(generate's position ids from the attention mask; Llama's RoPE and eager attention)."""

import math
from types import SimpleNamespace

import pytest
import torch

from course_lib.kv_cache import decode_with_cache, positions_from_mask, rope_attention
from course_lib.sinusoidal import half_split_permutation

GEN = torch.Generator().manual_seed(0)


def _hf_positions(attention_mask):
    from transformers.generation.utils import GenerationMixin

    # The method reads only its arguments (no model state) when an attention mask is given.
    return GenerationMixin._prepare_position_ids_for_generation(
        None, torch.zeros_like(attention_mask), {"attention_mask": attention_mask})


@pytest.mark.parametrize("mask", [
    [[1, 1, 1, 1], [0, 0, 1, 1]],
    [[0, 1, 1, 1, 1], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]],
    [[1]],
])
def test_positions_from_mask_match_hf_generate(mask):
    mask = torch.tensor(mask)
    assert torch.equal(positions_from_mask(mask), _hf_positions(mask))


def test_positions_from_mask_start_every_sequence_at_zero():
    positions = positions_from_mask(torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]))
    assert positions[0, 2:].tolist() == [0, 1, 2] and positions[1].tolist() == [0, 1, 2, 3, 4]


def _hf_llama_attention(q, k, v, positions, attention_mask):
    """HF Llama's RoPE (half-split) and eager attention for one head, on features permuted by P so
    that they equal our interleaved RoPE (permuting q's and k's features alike keeps the scores)."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import (
        LlamaRotaryEmbedding,
        apply_rotary_pos_emb,
        eager_attention_forward,
    )

    batch, seq, d = q.shape
    perm = half_split_permutation(d)
    config = LlamaConfig(hidden_size=d, num_attention_heads=1,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    cos, sin = LlamaRotaryEmbedding(config)(q, positions.expand(batch, seq))
    q_h, k_h = apply_rotary_pos_emb(q[:, None, :, perm], k[:, None, :, perm], cos, sin)
    allowed = torch.ones(seq, seq, dtype=torch.bool).tril() & attention_mask.bool()[:, None, :]
    additive = torch.zeros(batch, 1, seq, seq).masked_fill(~allowed[:, None], -1e9)
    module = SimpleNamespace(num_key_value_groups=1, training=False)
    out, _ = eager_attention_forward(module, q_h, k_h, v[:, None], additive, 1 / math.sqrt(d))
    return out[:, :, 0]                                            # (batch, seq, d)


def test_rope_attention_matches_hf_llama_with_left_padding():
    q, k, v = torch.randn(3, 2, 6, 8, generator=GEN)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    positions = positions_from_mask(mask)
    ours = rope_attention(q, k, v, positions, mask)
    reference = _hf_llama_attention(q, k, v, positions, mask)
    real = mask.bool()
    assert torch.allclose(ours[real], reference[real], atol=1e-5)


@pytest.mark.parametrize("positions", [torch.arange(7), torch.arange(100, 107),
                                       torch.tensor([[0, 1, 2, 3, 4, 5, 6], [3, 4, 5, 9, 10, 11,
                                                                             40]])])
def test_decoding_token_by_token_equals_the_full_recompute(positions):
    q, k, v = torch.randn(3, 2, 7, 16, generator=GEN)
    assert torch.allclose(decode_with_cache(q, k, v, positions), rope_attention(q, k, v, positions),
                          atol=1e-5)


def test_left_padding_needs_one_position_convention_not_arange():
    q, k, v = torch.randn(3, 1, 6, 8, generator=GEN)           # 4 prompt tokens, 2 generated
    alone = rope_attention(q, k, v, torch.arange(6))
    pad = torch.zeros(1, 3, 8)
    qp, kp, vp = (torch.cat((pad, t), dim=1) for t in (q, k, v))
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    from_mask = positions_from_mask(mask)
    right = decode_with_cache(qp, kp, vp, from_mask, mask)[:, 3:]
    assert torch.allclose(right, alone, atol=1e-5)
    # arange shifts every real token by 3 alike: RoPE scores only see offsets, nothing changes.
    shifted = decode_with_cache(qp, kp, vp, torch.arange(9), mask)[:, 3:]
    assert torch.allclose(shifted, alone, atol=1e-5)
    # The prompt's positions from the mask, the new tokens' from the cache length: offsets change.
    mixed = torch.cat((from_mask[0, :7], torch.tensor([7, 8])))
    wrong = decode_with_cache(qp, kp, vp, mixed, mask)[:, 3:]
    assert (wrong[:, 4:] - alone[:, 4:]).abs().max() > 1e-2
    # Without the mask, the padded slots take part in attention.
    unmasked = decode_with_cache(qp, kp, vp, from_mask)[:, 3:]
    assert (unmasked - alone).abs().max() > 1e-2


def test_bad_inputs_raise_readable_errors():
    q = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="positions must have shape"):
        rope_attention(q, q, q, torch.arange(4))
    with pytest.raises(ValueError, match="share one shape"):
        decode_with_cache(q, q[:, :4], q, torch.arange(5))
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        rope_attention(q, q, q, torch.arange(5), torch.ones(2, 4))
    with pytest.raises(ValueError, match="0 for padding"):
        positions_from_mask(torch.tensor([[2, 1]]))
    with pytest.raises(ValueError, match="floating-point"):
        rope_attention(q.long(), q, q, torch.arange(5))
