"""Chapter 05: RoPE, cross-checked against HF transformers' Llama (half-split) and GPT-J
(interleaved) code."""

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

GEN = torch.Generator().manual_seed(0)


def _llama(head_dim, heads, base):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = LlamaConfig(hidden_size=head_dim * heads, num_attention_heads=heads,
                         rope_parameters={"rope_type": "default", "rope_theta": base})
    return LlamaRotaryEmbedding(config)


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
def test_half_split_layout_matches_hf_llama(head_dim, seq, base):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    # (2 tensors, batch, heads, seq, head_dim)
    q, k = torch.randn(2, 2, 3, seq, head_dim, generator=GEN)
    # (batch, seq)
    positions = torch.tensor([[5 + p for p in range(seq)], [3 * p for p in range(seq)]])
    cos, sin = _llama(head_dim, 3, base)(q, positions)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)
    ours = positions[:, None, :]                                          # broadcast over heads
    assert torch.allclose(apply_rope(q, ours, base, layout="half_split"), q_ref, atol=1e-5)
    assert torch.allclose(apply_rope(k, ours, base, layout="half_split"), k_ref, atol=1e-5)
    assert torch.equal(
        rotate_half(q), torch.cat((-q[..., head_dim // 2 :], q[..., : head_dim // 2]), dim=-1)
    )


@pytest.mark.parametrize("head_dim, rotary_dim", [(16, None), (32, 8)])
def test_interleaved_layout_and_partial_rotary_match_hf_gptj(head_dim, rotary_dim):
    from transformers.models.gptj import modeling_gptj as gptj

    seq, rot = 10, rotary_dim or head_dim
    # GPT-J's (batch, seq, heads, head_dim)
    x = torch.randn(2, seq, 3, head_dim, generator=GEN)
    position_ids = torch.arange(seq).repeat(2, 1) + torch.tensor([[0], [7]])
    sincos = gptj.create_sinusoidal_positions(64, rot)[position_ids]     # (batch, seq, rot)
    sin, cos = torch.split(sincos, rot // 2, dim=-1)
    reference = torch.cat((gptj.apply_rotary_pos_emb(x[..., :rot], sin, cos), x[..., rot:]), dim=-1)
    ours = apply_rope(x.transpose(1, 2), position_ids[:, None, :], rotary_dim=rotary_dim).transpose(
        1, 2
    )
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.equal(ours[..., rot:], x[..., rot:]), (
        "features past rotary_dim pass through untouched"
    )
    assert torch.equal(
        rotate_every_two(x.transpose(1, 2)), gptj.rotate_every_two(x.transpose(1, 2))
    )


def test_half_split_is_interleaved_with_features_permuted_exactly():
    head_dim = 16
    x = torch.randn(4, 9, head_dim, generator=GEN)
    # P = [0,2,4,...,1,3,5,...], as for sinusoid tables
    perm = half_split_permutation(head_dim)
    assert torch.equal(
        apply_rope(x[..., perm], layout="half_split"),
        apply_rope(x, layout="interleaved")[..., perm],
    )


def test_complex_multiply_is_the_same_rotation():
    x = torch.randn(2, 30, 32, generator=GEN)
    assert torch.allclose(apply_rope_complex(x), apply_rope(x), atol=1e-5)
    x64 = x.double()
    assert torch.allclose(
        apply_rope_complex(x64, torch.arange(100, 130)),
        apply_rope(x64, torch.arange(100, 130)),
        atol=1e-12,
    )


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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtype_is_kept(dtype):
    x = torch.randn(3, 8, 16, generator=GEN).to(dtype)
    assert apply_rope(x).dtype == dtype and apply_rope_complex(x).dtype == dtype


def test_rotary_scheme_rotates_q_and_k_inside_a_model_and_checks_head_dim():
    model = TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(16))
    assert model(torch.randint(10, (2, 7))).shape == (2, 2)
    with pytest.raises(ValueError, match="head_dim=8, but the attention heads have 16"):
        TinyTransformer(10, 2, d_model=32, num_heads=2, position=RotaryPositions(8))(
            torch.randint(10, (1, 4))
        )


@pytest.mark.parametrize("layout, rotary_dim", [("interleaved", None), ("half_split", 8)])
def test_rotary_scheme_rotates_q_and_k_as_apply_rope_does(layout, rotary_dim):
    # (2 tensors, batch, heads, seq, head_dim)
    q, k = torch.randn(2, 2, 3, 5, 16, generator=GEN)
    positions = torch.arange(5)
    scheme = RotaryPositions(16, base=500.0, layout=layout, rotary_dim=rotary_dim)
    q_rot, k_rot = scheme.rotate(q, k, positions)
    kwargs = dict(base=500.0, layout=layout, rotary_dim=rotary_dim)
    assert torch.equal(q_rot, apply_rope(q, positions, **kwargs))
    assert torch.equal(k_rot, apply_rope(k, positions, **kwargs))


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
        (lambda: apply_rope(torch.zeros(4, 7)), "must be even"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(5)), "one position per token"),
        (lambda: apply_rope_complex(torch.zeros(4, 8), torch.arange(5)), "one position per token"),
        (lambda: apply_rope(torch.zeros(4, 8, dtype=torch.long)), "floating-point"),
        (lambda: apply_rope(torch.zeros(4, 8), rotary_dim=10), "cannot exceed"),
        (lambda: RotaryPositions(8, rotary_dim=3), "rotary_dim must be even"),
        (lambda: RotaryPositions(8, layout="half"), "use layout='half_split'"),
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
