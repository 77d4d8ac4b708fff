"""Chapter 05: RoPE, cross-checked against HF transformers' Llama (half-split) and GPT-J
(interleaved) code: shapes (per-sequence position_ids, [batch, seq, heads, d] layouts), devices
(meta), precision (bfloat16, float16) and the cached table of RotaryPositions."""

import math

import pytest
import torch

from course_lib import (
    RotaryPositions,
    TinyTransformer,
    apply_rope,
    apply_rope_complex,
    half_split_permutation,
    rope_cos_sin,
    rope_inv_freq,
    rotate_every_two,
    rotate_half,
    sinusoid_frequencies,
)
from course_lib.rope import _angle_dtype

GEN = torch.Generator().manual_seed(0)


def _llama(head_dim, heads, base):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = LlamaConfig(hidden_size=head_dim * heads, num_attention_heads=heads,
                         rope_parameters={"rope_type": "default", "rope_theta": base})
    return LlamaRotaryEmbedding(config)


def _hf_llama(x, position_ids, base=10000.0):
    """HF Llama's half-split RoPE of x [batch, heads, seq, head_dim] at position_ids (batch, seq),
    computed in float64 from HF's own (float32) frequencies."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    rotary = _llama(x.shape[-1], x.shape[1], base)
    freqs = position_ids[..., None].double() * rotary.inv_freq.double()        # (batch, seq, d/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return apply_rotary_pos_emb(x.double(), x.double(), emb.cos(), emb.sin())[0]


def _hf_gptj(x, position_ids, rotary_dim=None):
    """HF GPT-J's interleaved RoPE of x [batch, seq, heads, head_dim] at position_ids
    (batch, seq), rotating the first rotary_dim features and passing the rest; in float64, with
    GPT-J's [sin ‖ cos] table computed in float64 (HF's own is float32)."""
    from transformers.models.gptj import modeling_gptj as gptj

    rot = rotary_dim or x.shape[-1]
    length = int(position_ids.max()) + 1
    inv_freq = 1.0 / (10000 ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    angles = torch.arange(length, dtype=torch.float64)[:, None] * inv_freq
    table = torch.cat((angles.sin(), angles.cos()), dim=1)
    assert torch.allclose(table.float(), gptj.create_sinusoidal_positions(length, rot), atol=1e-4)
    sin, cos = torch.split(table[position_ids], rot // 2, dim=-1)           # (batch, seq, rot/2)
    rotated = gptj.apply_rotary_pos_emb(x[..., :rot].double(), sin.double(), cos.double())
    return torch.cat((rotated, x[..., rot:].double()), dim=-1)


@pytest.mark.parametrize("head_dim, base", [(16, 10000.0), (64, 500000.0), (2, 10.0)])
def test_frequencies_match_llama_default_rope(head_dim, base):
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    reference, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(
        _llama(head_dim, 2, base).config
    )
    assert scale == 1.0
    assert torch.allclose(rope_inv_freq(head_dim, base).float(), reference, rtol=1e-6)
    # ... and they are the paper's sinusoid frequencies for d_model = head_dim.
    assert torch.equal(rope_inv_freq(head_dim, base), sinusoid_frequencies(head_dim, base))


@pytest.mark.parametrize("head_dim, seq, base", [(16, 12, 10000.0), (64, 40, 500000.0)])
def test_position_ids_per_sequence_match_hf_llama_even_when_batch_equals_heads(head_dim, seq,
                                                                                 base):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    # (2 tensors, batch 3, heads 3, seq, head_dim): batch == heads, where broadcasting (batch, seq)
    # positions against the heads axis would go wrong without an error
    q, k = torch.randn(2, 3, 3, seq, head_dim, generator=GEN)
    position_ids = torch.stack([torch.arange(seq) + 5, 3 * torch.arange(seq), torch.arange(seq)])
    cos, sin = _llama(head_dim, 3, base)(q, position_ids)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)  # HF's float32 angles lose some digits
    assert torch.allclose(apply_rope(q, position_ids, base, layout="half_split"), q_ref, atol=1e-4)
    assert torch.allclose(apply_rope(k, position_ids, base, layout="half_split"), k_ref, atol=1e-4)
    scheme = RotaryPositions(head_dim, base, layout="half_split")
    for ours, ref in zip(scheme.rotate(q, k, position_ids), (q_ref, k_ref)):
        assert torch.allclose(ours, ref, atol=1e-4)
    exact = _hf_llama(k, position_ids, base)                # HF's code with float64 angles
    assert torch.allclose(apply_rope(k, position_ids, base, layout="half_split").double(), exact,
                          atol=1e-5)
    assert torch.equal(
        rotate_half(q), torch.cat((-q[..., head_dim // 2 :], q[..., : head_dim // 2]), dim=-1)
    )


@pytest.mark.parametrize("head_dim, rotary_dim", [(16, None), (32, 8), (7, 4)])
def test_batch_seq_heads_layout_and_partial_rotary_match_hf_gptj(head_dim, rotary_dim):
    from transformers.models.gptj import modeling_gptj as gptj

    seq, rot = 10, rotary_dim or head_dim
    x = torch.randn(3, seq, 3, head_dim, generator=GEN)     # GPT-J's [batch, seq, heads, head_dim]
    position_ids = torch.arange(seq).repeat(3, 1) + torch.tensor([[0], [7], [2]])
    reference = _hf_gptj(x, position_ids, rotary_dim)
    for ours in (apply_rope(x, position_ids, rotary_dim=rotary_dim, token_dim=-3),
                 apply_rope(x, position_ids, rotary_dim=rotary_dim, token_dim=1),
                 apply_rope_complex(x, position_ids, rotary_dim=rotary_dim, token_dim=-3)):
        assert torch.allclose(ours.double(), reference, atol=1e-5)
        assert torch.equal(ours[..., rot:], x[..., rot:]), "features past rotary_dim pass through"
    # RotaryPositions takes [batch, heads, seq, head_dim], as the course's attention makes them
    q = x.transpose(1, 2)
    turned, _ = RotaryPositions(head_dim, rotary_dim=rotary_dim).rotate(q, q, position_ids)
    assert torch.allclose(turned.transpose(1, 2).double(), reference, atol=1e-5)
    x_rot = x[..., :rot].transpose(1, 2)
    assert torch.equal(rotate_every_two(x_rot), gptj.rotate_every_two(x_rot))


def test_default_positions_count_tokens_not_heads_in_the_batch_seq_heads_layout():
    x = torch.randn(2, 9, 4, 16, generator=GEN)                       # [batch, seq, heads, d]
    reference = _hf_gptj(x, torch.arange(9).repeat(2, 1))
    assert torch.allclose(apply_rope(x, token_dim=-3).double(), reference, atol=1e-5)
    assert torch.allclose(apply_rope(x, torch.arange(9), token_dim=-3).double(), reference,
                          atol=1e-5)


@pytest.mark.parametrize("shape", [(9, 16), (2, 9, 16), (2, 3, 9, 16)])
def test_shared_positions_match_hf_llama_for_every_rank_of_x(shape):
    x = torch.randn(*shape, generator=GEN)
    positions = torch.arange(30, 39)
    as_bhtd = x.reshape(-1, 1, 9, 16)                     # any leading axes as HF's batch
    reference = _hf_llama(as_bhtd, positions.expand(len(as_bhtd), 9)).reshape(shape)
    assert torch.allclose(apply_rope(x, positions, layout="half_split").double(), reference,
                          atol=1e-5)


def test_half_split_is_interleaved_with_features_permuted_exactly():
    head_dim = 16
    x = torch.randn(4, 9, head_dim, generator=GEN)
    # P = [0,2,4,...,1,3,5,...], as for sinusoid tables
    perm = half_split_permutation(head_dim)
    assert torch.equal(
        apply_rope(x[..., perm], layout="half_split"),
        apply_rope(x, layout="interleaved")[..., perm],
    )


def test_complex_multiply_is_the_interleaved_rotation_of_hf_gptj():
    x = torch.randn(2, 30, 1, 32, generator=GEN)                     # [batch, seq, heads, d]
    positions = torch.arange(100, 130)
    reference = _hf_gptj(x, positions.expand(2, 30))
    assert torch.allclose(apply_rope_complex(x[:, :, 0], positions).double(), reference[:, :, 0],
                          atol=1e-5)
    assert torch.allclose(apply_rope_complex(x[:, :, 0].double(), positions), reference[:, :, 0],
                          atol=1e-12)


@pytest.mark.parametrize("layout", ["interleaved", "half_split"])
def test_scores_depend_only_on_the_offset_and_norms_are_kept(layout):
    q, k = torch.randn(2, 32, generator=GEN).double()
    def score(m, n):
        return (
            apply_rope(q[None], torch.tensor([m]), layout=layout)
            @ apply_rope(k[None], torch.tensor([n]), layout=layout).T
        ).item()
    for m, n, t in [(5, 2, 100), (0, 9, 1234), (17, 17, 40)]:
        assert score(m, n) == pytest.approx(score(m + t, n + t), abs=1e-9)
    assert score(5, 2) != pytest.approx(score(2, 5), abs=1e-3), (
        "unlike sinusoids' PE·PE, left and right differ"
    )
    rotated = apply_rope(torch.randn(7, 32, generator=GEN).double(), layout=layout)
    assert torch.allclose(rotated.norm(dim=-1), apply_rope(rotated, torch.zeros(7)).norm(dim=-1))


# --- devices and dtypes -------------------------------------------------------------------------

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_every_function_keeps_dtype_and_device_and_runs_on_the_meta_device(dtype, device):
    # meta tensors have shapes but no values: a CPU-only tensor inside, or reading a value (a
    # host sync on a GPU), fails there as it would on CUDA or MPS.
    x = torch.randn(2, 3, 8, 16, generator=GEN).to(device=device, dtype=dtype)
    position_ids = torch.arange(8, device=device).repeat(2, 1)
    outputs = [apply_rope(x), apply_rope(x, position_ids, layout="half_split", rotary_dim=8),
               apply_rope(x.transpose(1, 2), token_dim=-3).transpose(1, 2),
               apply_rope_complex(x), apply_rope_complex(x, position_ids, rotary_dim=8)]
    for layout in ("interleaved", "half_split"):
        scheme = RotaryPositions(16, layout=layout).to(device)
        outputs += list(scheme.rotate(x, x, torch.arange(8, device=device)))
        assert scheme.cos_sin.device.type == device
    for out in outputs:
        assert (out.device.type, out.dtype, out.shape) == (device, dtype, x.shape)
    cos, sin = rope_cos_sin(torch.arange(8, device=device), 16)
    assert (cos.device.type, cos.dtype, cos.shape) == (device, torch.float64, (8, 16))
    assert rope_inv_freq(16, device=device).device.type == device


def test_a_model_moved_to_the_meta_device_runs_forward_without_reading_values():
    model = TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(16))
    model.to("meta")
    assert model(torch.zeros(3, 40, dtype=torch.long, device="meta")).device.type == "meta"
    assert model.position.cos_sin.shape == (40, 8, 2)


def test_angles_are_float64_except_on_mps_which_has_none():
    assert _angle_dtype("cpu") == _angle_dtype("meta") == _angle_dtype("cuda") == torch.float64
    assert _angle_dtype(torch.device("mps")) == torch.float32


@pytest.mark.parametrize("dtype, worst_error", [(torch.bfloat16, 0.04), (torch.float16, 0.004)])
def test_half_precision_is_at_least_as_close_to_float64_as_hf_llama(dtype, worst_error):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    # HF computes cos and sin in float32, rounds them to x's dtype and multiplies in it; we round
    # once, at the end. Realistic sizes: (batch 2, heads 4, seq 512, head_dim 64), positions < 4096.
    x = torch.randn(2, 4, 512, 64, generator=torch.Generator().manual_seed(0)).to(dtype)
    position_ids = torch.stack([8 * torch.arange(512), torch.arange(3584, 4096)])
    cos, sin = _llama(64, 4, 10000.0)(x.float(), position_ids)
    hf = apply_rotary_pos_emb(x, x, cos.to(dtype), sin.to(dtype))[0]
    reference = _hf_llama(x, position_ids)                              # float64 throughout
    hf_error = (hf.double() - reference).abs()
    scheme = RotaryPositions(64, layout="half_split")
    for ours in (apply_rope(x, position_ids, layout="half_split"),
                 scheme.rotate(x, x, position_ids)[0]):
        assert ours.dtype == dtype
        error = (ours.double() - reference).abs()
        assert error.max() <= hf_error.max() and error.mean() < hf_error.mean()
        assert (ours.double() - hf.double()).abs().max() <= worst_error   # the docstring's number


# --- RotaryPositions: the model's scheme and its table ------------------------------------------


def test_rotary_scheme_rotates_q_and_k_inside_a_model_and_checks_head_dim():
    model = TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(16))
    assert model(torch.randint(10, (2, 7))).shape == (2, 2)
    with pytest.raises(ValueError, match="head_dim=8, but the attention heads have 16"):
        TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(8))(
            torch.randint(10, (1, 4))
        )


@pytest.mark.parametrize("layout", ["interleaved", "half_split"])
def test_rotary_scheme_table_grows_on_demand_and_matches_hf(layout):
    scheme = RotaryPositions(16, base=500.0, layout=layout)
    assert scheme.cos_sin.shape == (0, 8, 2), "empty until the first call"
    for seq in (5, 3, 40):
        q = torch.randn(2, 3, seq, 16, generator=GEN)
        turned, _ = scheme.rotate(q, q, torch.arange(seq))
        if layout == "half_split":
            reference = _hf_llama(q, torch.arange(seq).expand(2, seq), base=500.0)
        else:
            reference = apply_rope(q.double(), base=500.0)     # interleaved: GPT-J has base 10⁴
        assert torch.allclose(turned.double(), reference, atol=1e-5)
    assert len(scheme.cos_sin) == 40, "rows 0..39 (5, kept for 3, then max(40, 2·5))"
    assert torch.equal(scheme.cos_sin[:, :, 0], torch.cos(torch.arange(40.0).double()[:, None]
                                                          * rope_inv_freq(16, 500.0)).float())
    scheme.rotate(q, q, torch.tensor([0, 99, *range(2, 40)]))       # CPU positions are read
    assert len(scheme.cos_sin) == 100


def test_rotary_scheme_table_is_not_lowered_by_a_dtype_cast_and_follows_float64():
    scheme = RotaryPositions(16)
    q = torch.randn(1, 2, 6, 16, generator=GEN)
    q_bf16 = q.bfloat16()
    full = scheme.rotate(q_bf16.float(), q, torch.arange(6))[0]
    scheme.to(torch.bfloat16)                       # a model cast to bf16 casts its buffers too
    assert scheme.cos_sin.dtype == torch.bfloat16
    halved = scheme.rotate(q_bf16, q_bf16, torch.arange(6))[0]
    assert scheme.cos_sin.dtype == torch.float32, "rebuilt from float64 angles, not from bf16"
    assert torch.equal(halved, full.bfloat16()), "float32 maths, rounded once"
    doubled = scheme.rotate(q.double(), q.double(), torch.arange(6))[0]
    assert scheme.cos_sin.dtype == torch.float64
    assert torch.allclose(doubled, _hf_gptj(q.transpose(1, 2), torch.arange(6)[None])
                          .transpose(1, 2), atol=1e-12)


def test_rotary_scheme_table_is_kept_out_of_the_state_dict():
    model = TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(16))
    model(torch.randint(10, (1, 7)))
    state = model.state_dict()
    assert not any("cos_sin" in key for key in state)
    fresh = TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(16))
    fresh.load_state_dict(state)                       # strict: a checkpoint without the table
    tokens = torch.randint(10, (2, 7))
    assert torch.equal(fresh(tokens), model(tokens))


def test_rotary_scheme_gradients_are_the_inverse_rotation():
    # d(R_m x)/dx applied to g is R_{−m} g: what training back-propagates through q and k
    for layout in ("interleaved", "half_split"):
        q = torch.randn(2, 3, 6, 16, generator=GEN, requires_grad=True)
        upstream = torch.randn(2, 3, 6, 16, generator=GEN)
        RotaryPositions(16, layout=layout).rotate(q, q.detach(), torch.arange(6))[0].backward(
            upstream)
        expected = apply_rope(upstream, -torch.arange(6), layout=layout)
        assert torch.allclose(q.grad, expected, atol=1e-5)


# --- RotaryPositions with context-extension scaling (chapter 07) ------------------------------

TOY = {"head_dim": 16, "base": 10000.0, "factor": 4.0, "original_max_len": 16}
LLAMA3 = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}
# (HF rope_parameters beyond rope_type and rope_theta, our keyword settings); HF 5.23's Llama
HF_SCALED = {
    "default": ({}, {}),
    "linear": ({"factor": 4.0}, {}),
    "dynamic": ({"factor": 4.0}, {}),          # HF's L0 is the config's max_position_embeddings
    "yarn": ({"factor": 4.0, "original_max_position_embeddings": 16}, {}),
    "llama3": ({"factor": 4.0, "original_max_position_embeddings": 16, **LLAMA3}, LLAMA3),
}


def _hf_llama_scaled(kind, q, k, position_ids):
    """HF Llama's half-split rotation of q, k (batch, heads, seq, 16) under a rope_type: a fresh
    rotary embedding (HF's dynamic one keeps state between calls), cos and sin times HF's
    attention_scaling, in float32."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    config = LlamaConfig(hidden_size=32, num_attention_heads=2, head_dim=16,
                         max_position_embeddings=16 if kind == "dynamic" else 64,
                         rope_parameters={"rope_type": kind, "rope_theta": 10000.0,
                                          **HF_SCALED[kind][0]})
    cos, sin = LlamaRotaryEmbedding(config)(q, position_ids)
    return apply_rotary_pos_emb(q, k, cos, sin)


@pytest.mark.parametrize("kind", sorted(HF_SCALED))
@pytest.mark.parametrize("seq", [12, 40])
def test_scaled_rotary_positions_rotate_as_hf_llama_with_per_sequence_positions(kind, seq):
    q, k = torch.randn(2, 3, 2, seq, 16, generator=GEN)
    # rows of their own; the longest position (+ 1) is the length "dynamic" scales for
    position_ids = torch.stack([torch.arange(seq), torch.arange(seq) + 7, torch.arange(seq)])
    scheme = RotaryPositions(16, layout="half_split", scaling=kind,
                             **{name: TOY[name] for name in ("factor", "original_max_len")},
                             **HF_SCALED[kind][1])
    for ours, hf in zip(scheme.rotate(q, k, position_ids),
                        _hf_llama_scaled(kind, q, k, position_ids)):
        torch.testing.assert_close(ours, hf, rtol=0, atol=2e-5)


def _phi3_partial(q, k, position_ids, short, long):
    """HF Phi-3's rotation (LongRoPE, partial_rotary_factor 0.5: the first 8 of 16 features) of
    q, k (batch, heads, seq, 16); features past the rotary ones pass through unscaled."""
    from transformers import Phi3Config
    from transformers.models.phi3.modeling_phi3 import Phi3RotaryEmbedding, apply_rotary_pos_emb

    config = Phi3Config(hidden_size=32, num_attention_heads=2, max_position_embeddings=64,
                        original_max_position_embeddings=16,
                        rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                         "partial_rotary_factor": 0.5, "short_factor": short,
                                         "long_factor": long})
    cos, sin = Phi3RotaryEmbedding(config)(q, position_ids)
    return apply_rotary_pos_emb(q, k, cos, sin)


@pytest.mark.parametrize("seq", [12, 40])
def test_scaled_partial_rotary_matches_hf_phi3_longrope(seq):
    short, long = [1.0, 1.05, 1.1, 1.2], [1.0, 2.0, 5.0, 9.0]
    q, k = torch.randn(2, 1, 2, seq, 16, generator=GEN)
    position_ids = torch.arange(seq)[None]
    scheme = RotaryPositions(16, layout="half_split", rotary_dim=8, scaling="longrope",
                             factor=4.0, original_max_len=16, short_factor=short,
                             long_factor=long)
    for ours, hf in zip(scheme.rotate(q, k, position_ids[0]),
                        _phi3_partial(q, k, position_ids, short, long)):
        torch.testing.assert_close(ours, hf, rtol=0, atol=2e-5)
    turned_q, _ = scheme.rotate(q, k, position_ids[0])
    assert torch.equal(turned_q[..., 8:], q[..., 8:]), "past rotary_dim: no rotation, no factor"
    assert scheme.attention_factor == pytest.approx(math.sqrt(1 + math.log(4) / math.log(16)))


def test_apply_rope_with_given_frequencies_matches_hf_linear_and_plain_rope():
    from course_lib.rope_scaling import scaled_rope_inv_freq

    q, k = torch.randn(2, 2, 3, 40, 16, generator=GEN)
    position_ids = torch.arange(40).expand(2, 40)
    stretched, _ = scaled_rope_inv_freq(16, 10000.0, "linear", 4.0, 16, dtype=torch.float64)
    hf_q, _ = _hf_llama_scaled("linear", q, k, position_ids)
    torch.testing.assert_close(apply_rope(q, position_ids, layout="half_split",
                                          inv_freq=stretched), hf_q, rtol=0, atol=2e-5)
    # position interpolation: θ/4 at position m is θ at position m/4
    assert torch.allclose(apply_rope(q, torch.arange(40), inv_freq=stretched),
                          apply_rope(q, torch.arange(40) / 4), atol=1e-6)
    assert torch.equal(apply_rope(q, inv_freq=rope_inv_freq(16)), apply_rope(q))


@pytest.mark.parametrize("dtype", DTYPES)
def test_scaled_scheme_keeps_dtype_and_device_and_runs_on_the_meta_device(dtype):
    x = torch.randn(2, 3, 8, 16, generator=GEN).to(dtype)
    for device in ("cpu", "meta"):
        scheme = RotaryPositions(16, scaling="yarn", factor=4.0, original_max_len=4).to(device)
        for out in scheme.rotate(x.to(device), x.to(device), torch.arange(8)):
            assert (out.device.type, out.dtype, out.shape) == (device, dtype, x.shape)


def test_yarn_attention_factor_multiplies_every_logit_by_its_square():
    q, k = torch.randn(2, 1, 1, 30, 16, generator=GEN).double()
    yarn = RotaryPositions(16, scaling="yarn", factor=4.0, original_max_len=16)
    same_angles = RotaryPositions(16, scaling="yarn", factor=4.0, original_max_len=16,
                                  attention_factor=1.0)
    logits = [(lambda a, b: a @ b.mT)(*s.rotate(q, k, torch.arange(30))) for s in
              (yarn, same_angles)]
    assert yarn.attention_factor == pytest.approx(0.1 * math.log(4) + 1)
    torch.testing.assert_close(logits[0], logits[1] * yarn.attention_factor ** 2)


def test_dynamic_scaling_is_plain_rope_up_to_the_original_length_and_slower_after():
    q = torch.randn(1, 2, 40, 16, generator=GEN).double()
    dynamic = RotaryPositions(16, scaling="dynamic", factor=4.0, original_max_len=16)
    plain = RotaryPositions(16)
    torch.testing.assert_close(dynamic.rotate(q[:, :, :16], q[:, :, :16], torch.arange(16))[0],
                               plain.rotate(q[:, :, :16], q[:, :, :16], torch.arange(16))[0],
                               rtol=0, atol=1e-12)
    assert not torch.allclose(dynamic.rotate(q, q, torch.arange(40))[0][:, :, :16],
                              plain.rotate(q, q, torch.arange(40))[0][:, :, :16], atol=1e-3), (
        "at 40 positions the base has grown: the first 16 tokens turn differently too")
    longer, _ = dynamic.frequencies(40)
    assert (longer[1:] < plain.inv_freq[1:]).all()


@pytest.mark.parametrize("head_dim", [6, 16, 64])
@pytest.mark.parametrize("layout", ["interleaved", "half_split"])
def test_scaling_none_is_plain_rope_within_rounding(head_dim, layout):
    q, k = torch.randn(2, 2, 3, 37, head_dim, generator=GEN)
    for ours, plain in zip(RotaryPositions(head_dim, layout=layout, scaling="none").rotate(
            q, k, torch.arange(37)), RotaryPositions(head_dim, layout=layout).rotate(
            q, k, torch.arange(37))):
        eps = torch.finfo(q.dtype).eps
        assert (ours - plain).abs().max() <= 1.2 * eps * q.abs().max()   # the docstring's bound


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rope_inv_freq(7), "head_dim must be even"),
        (lambda: rope_inv_freq(8, base=-1.0), "base must be a positive number"),
        (
            lambda: apply_rope(torch.zeros(4, 6), layout="split"),
            "layout must be one of 'interleaved', 'half_split'",
        ),
        (
            lambda: apply_rope(torch.zeros(4, 6), layout="half"),
            "old name .* use layout='half_split'",
        ),
        (
            lambda: rope_cos_sin(torch.arange(4), 8, layout="halves"),
            "old name .* use layout='half_split'",
        ),
        (lambda: rope_cos_sin(torch.zeros(2, 3, 4), 8), r"shape \(seq,\) or \(batch, seq\)"),
        (lambda: apply_rope(torch.zeros(4, 7)), "must be even"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(5)), "one position per token"),
        (lambda: apply_rope_complex(torch.zeros(5, 8), torch.tensor([3])),
         "one position per token: its last dimension is 1, but x .* has 5 tokens"),
        (lambda: apply_rope(torch.zeros(2, 3, 4, 8), torch.zeros(2, 5)), "one position per token"),
        (lambda: apply_rope(torch.zeros(2, 3, 4, 8), torch.zeros(2, 1, 4)),
         r"shape \(seq,\), shared by every sequence, or \(batch, seq\).* got shape \(2, 1, 4\)"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.zeros(1, 4)),
         r"need x with a batch axis first.*give positions of shape \(seq,\)"),
        (lambda: apply_rope(torch.zeros(2, 3, 4, 8), torch.zeros(3, 4)),
         "give 3 rows, but x's batch axis .* has 2 sequences"),
        (lambda: apply_rope_complex(torch.zeros(2, 4, 3, 8), torch.zeros(3, 4), token_dim=-3),
         "give 3 rows, but x's batch axis"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.zeros(4, dtype=torch.bool)), "real numbers"),
        (lambda: apply_rope(torch.zeros(4, 8), token_dim=-3), "token_dim must name an axis"),
        (lambda: apply_rope(torch.zeros(4, 8), token_dim=-1), r"-3 for \[batch, seq, heads"),
        (lambda: apply_rope(torch.zeros(4, 8), token_dim=1.5), "token_dim must be a whole number"),
        (lambda: apply_rope(torch.zeros(4, 8, dtype=torch.long)), "floating-point"),
        (lambda: apply_rope(torch.zeros(4, 8), rotary_dim=10), "cannot exceed"),
        (lambda: apply_rope_complex(torch.zeros(4, 8), rotary_dim=10), "cannot exceed"),
        (lambda: apply_rope_complex(torch.zeros(4, 8), rotary_dim=3), "rotary_dim must be even"),
        (lambda: RotaryPositions(8, rotary_dim=3), "rotary_dim must be even"),
        (lambda: RotaryPositions(7), "head_dim must be even .* or give an even rotary_dim"),
        (lambda: RotaryPositions(8, rotary_dim=10), "cannot exceed head_dim"),
        (lambda: RotaryPositions(8, layout="half"), "use layout='half_split'"),
        (lambda: RotaryPositions(8).rotate(torch.zeros(1, 2, 4, 8), torch.zeros(1, 2, 4, 8),
                                           torch.arange(4.0)), "must be whole numbers"),
        (lambda: RotaryPositions(8).rotate(torch.zeros(1, 2, 4, 8), torch.zeros(1, 2, 4, 8),
                                           torch.arange(-1, 3)), "count tokens from 0, got -1"),
        (lambda: RotaryPositions(8).rotate(torch.zeros(2, 2, 4, 8), torch.zeros(2, 2, 4, 8),
                                           torch.zeros(3, 4, dtype=torch.long)),
         "give 3 rows, but x's batch axis"),
        (lambda: RotaryPositions(16, factor=4.0), "got factor without a scaling"),
        (lambda: RotaryPositions(16, lay_out="half_split"), "got lay_out without a scaling"),
        (lambda: RotaryPositions(16, scaling="ntk-by-parts"),
         "scaling must be None .* or one of 'default', 'none', 'linear'"),
        (lambda: RotaryPositions(16, scaling="linear"),
         "needs factor .* missing factor, original_max_len"),
        (lambda: RotaryPositions(16, scaling="llama3", factor=4.0, original_max_len=16),
         r"missing \['low_freq_factor', 'high_freq_factor'\]"),
        (lambda: RotaryPositions(16, scaling="linear", factor=0.5, original_max_len=16),
         "factor must be at least 1"),
        (lambda: RotaryPositions(16, scaling="none", original_max_len=0),
         "original_max_len must be at least 1"),
        (lambda: RotaryPositions(8, scaling="linear", factor=4.0, original_max_len=4).rotate(
            torch.zeros(1, 2, 4, 8), torch.zeros(1, 2, 4, 8), torch.arange(4.0)),
         "must be whole numbers"),
        (lambda: RotaryPositions(8, scaling="dynamic", factor=4.0, original_max_len=4).rotate(
            torch.zeros(1, 2, 4, 8), torch.zeros(1, 2, 4, 8), torch.arange(-1, 3)),
         "count tokens from 0, got -1"),
        (lambda: apply_rope(torch.zeros(4, 8), inv_freq=rope_inv_freq(8), base=500.0),
         "give base or inv_freq, not both"),
        (lambda: apply_rope(torch.zeros(4, 8), inv_freq=rope_inv_freq(10)),
         "for 10 features, but x's last dimension has only 8"),
        (lambda: apply_rope(torch.zeros(4, 8), inv_freq=rope_inv_freq(8), rotary_dim=4),
         "rotary_dim=4 disagrees"),
        (lambda: apply_rope(torch.zeros(4, 8), inv_freq=torch.ones(2, 2)),
         r"shape \(rotary_dim/2,\)"),
    ],
)
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_partial_rotary_facts_quoted_in_the_lecture_match_reference_configs():
    from transformers import GPTJConfig, GPTNeoXConfig

    gptj = GPTJConfig()
    # "the first 64 of 256"
    assert (gptj.rotary_dim, gptj.n_embd // gptj.n_head) == (64, 256)
    assert GPTNeoXConfig().rope_parameters["partial_rotary_factor"] == 0.25         # "a quarter"
