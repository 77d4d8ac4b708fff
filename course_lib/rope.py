"""Chapter 05 — rotary position embeddings (RoPE; Su et al., "RoFormer", 2021).

Split a query or key vector of width head_dim into pairs, and turn pair i of
the vector at position m by the angle m·θ_i, with θ_i = base^(−2i/head_dim):

    [x_a, x_b] -> [x_a cos mθ_i − x_b sin mθ_i,  x_a sin mθ_i + x_b cos mθ_i]

A rotation by mθ on q and by nθ on k leaves q·k depending on (m − n)θ only, so
attention scores see the offset, not the absolute positions. Values are never
rotated.

Two conventions pair the features differently (same maths, permuted features):
    "interleaved"  pairs (0, 1), (2, 3), ...        RoFormer, Meta's Llama code, GPT-J, torchtune
    "half_split"   pairs (i, i + head_dim/2)        GPT-NeoX, HF Llama (``rotate_half``)
flash-attn's ``interleaved=False`` and vLLM's "neox style" are the half-split one. The name is the
one chapter 03's sinusoidal tables use for the same split (``course_lib.sinusoidal`` says why);
the old name "half" raises a ValueError that says so.
"""

from __future__ import annotations

import torch

from ._validation import require_even, require_layout, require_positive_float, require_tensor
from .schemes import PositionScheme


def rope_inv_freq(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """(head_dim/2,) float64 angular frequencies θ_i = base^(−2i/head_dim): radians per position.

    The same clocks as chapter 03's sinusoids (``sinusoid_frequencies`` calls this function).
    """
    require_even("head_dim", head_dim, minimum=2)
    require_positive_float("base", base)
    return base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF Llama / GPT-NeoX: [x1 ‖ x2] -> [−x2 ‖ x1], pairing feature i with feature i + d/2."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """GPT-J / RoFormer: (x0, x1, x2, x3, ...) -> (−x1, x0, −x3, x2, ...), pairing neighbours."""
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x_odd, x_even), dim=-1).flatten(-2)


def _cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, layout: str):
    """cos and sin of m·θ_i laid out for ``layout``: two (..., seq, 2·len(inv_freq)) float64."""
    # m·θ_i for every position m and pair i: (..., seq, d/2)
    angles = positions.to(torch.float64)[..., None] * inv_freq.to(positions.device)
    if layout == "half_split":
        # pairs (i, i + d/2): [θ_0 … θ_{d/2−1} ‖ θ_0 … θ_{d/2−1}], HF's torch.cat((freqs, freqs))
        angles = torch.cat((angles, angles), dim=-1)
    else:
        # pairs (2i, 2i + 1): θ_0, θ_0, θ_1, θ_1, ...
        angles = angles.repeat_interleave(2, dim=-1)
    return angles.cos(), angles.sin()


def _rope(x: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor, layout: str):
    """``apply_rope`` without its checks: turn the first 2·len(inv_freq) features, pass the rest."""
    rotary_dim = 2 * len(inv_freq)
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]  # partial rotary: x_pass is untouched
    cos, sin = _cos_sin(positions, inv_freq, layout)  # (..., seq, rotary_dim)
    turn = rotate_half if layout == "half_split" else rotate_every_two
    # Angles are exact in float64; the rotation runs in x's precision (at least float32, so
    # half-precision inputs are rounded once, at the end).
    work = torch.promote_types(x.dtype, torch.float32)
    x_rot = x_rot.to(work)
    # Each pair (a, b) -> (a cos mθ − b sin mθ, a sin mθ + b cos mθ), written feature-wise
    # with turn(a, b) = (−b, a):   x' = x ⊙ cos(mθ) + turn(x) ⊙ sin(mθ)
    rotated = x_rot * cos.to(work) + turn(x_rot) * sin.to(work)
    return torch.cat((rotated.to(x.dtype), x_pass), dim=-1)


def _check_rope_input(x, positions, rotary_dim):
    """Checks shared by ``apply_rope`` and ``apply_rope_complex``: (positions, rotary_dim)."""
    require_tensor("x", x, min_ndim=2, floating=True)
    head_dim, seq = x.shape[-1], x.shape[-2]
    if rotary_dim is None:
        rotary_dim = require_even("x.shape[-1] (head_dim)", head_dim, minimum=2)
    require_even("rotary_dim", rotary_dim, minimum=2)
    if rotary_dim > head_dim:
        raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed x's last dimension "
                         f"({head_dim}).")
    if positions is None:
        positions = torch.arange(seq, device=x.device)
    require_tensor("positions", positions, min_ndim=1)
    if positions.shape[-1] != seq:
        raise ValueError(
            f"positions must give one position per token: its last dimension is "
            f"{positions.shape[-1]}, but x has {seq} tokens (x.shape[-2])."
        )
    return positions, rotary_dim


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0,
                 layout: str = "interleaved"):
    """cos and sin of every angle m·θ_i laid out to match ``layout``: two (seq, head_dim) float64.

    "half_split" repeats the head_dim/2 angles as [angles ‖ angles], as HF's
    ``torch.cat((freqs, freqs))``; "interleaved" repeats each one twice (θ_0, θ_0, θ_1, θ_1, ...).
    """
    require_tensor("positions", positions, min_ndim=1)
    layout = require_layout(layout)
    return _cos_sin(positions, rope_inv_freq(head_dim, base), layout)


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0,
               layout: str = "interleaved", rotary_dim: int | None = None) -> torch.Tensor:
    """Rotate x (..., seq, head_dim) by its positions; returns the same shape and dtype.

    ``positions``: (seq,) or broadcastable to x's leading dims + (seq,); default 0, 1, ..., seq − 1.
    ``rotary_dim``: rotate only the first rotary_dim features and pass the rest through (partial
    rotary, as GPT-J's rotary_dim and GPT-NeoX's rotary_pct); default all of head_dim.
    """
    layout = require_layout(layout)
    positions, rotary_dim = _check_rope_input(x, positions, rotary_dim)
    return _rope(x, positions, rope_inv_freq(rotary_dim, base), layout)


def apply_rope_complex(x: torch.Tensor, positions: torch.Tensor | None = None,
                       base: float = 10000.0) -> torch.Tensor:
    """The same rotation as Meta's Llama code writes it: pair (x_2i, x_2i+1) as a complex number.

    Interleaved layout only (that is how pairs become complex numbers); x (..., seq, head_dim),
    float32 or float64 (other dtypes are rotated in float32 and cast back).
    """
    positions, head_dim = _check_rope_input(x, positions, None)
    angles = positions.to(torch.float64)[..., None] * rope_inv_freq(head_dim, base)  # m·θ_i
    work = torch.promote_types(x.dtype, torch.float32)
    complex_dtype = torch.complex128 if work == torch.float64 else torch.complex64
    rotations = torch.polar(torch.ones_like(angles), angles).to(complex_dtype)  # e^{i m θ_i}
    # (..., seq, head_dim) -> (..., seq, head_dim/2) complex numbers x_2i + i·x_2i+1
    pairs = torch.view_as_complex(x.to(work).reshape(*x.shape[:-1], head_dim // 2, 2).contiguous())
    return torch.view_as_real(pairs * rotations).flatten(-2).to(x.dtype)


class RotaryPositions(PositionScheme):
    """RoPE as a course position scheme: rotates every head's q and k (never v) inside attention."""

    def __init__(self, head_dim: int, base: float = 10000.0, layout: str = "interleaved",
                 rotary_dim: int | None = None):
        super().__init__()
        self.head_dim = require_even("head_dim", head_dim, minimum=2)
        self.base = require_positive_float("base", base)
        self.layout = require_layout(layout)
        if rotary_dim is None:
            rotary_dim = head_dim
        self.rotary_dim = require_even("rotary_dim", rotary_dim, minimum=2)
        if self.rotary_dim > head_dim:
            raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed head_dim ({head_dim}).")
        # θ_i of the rotated pairs, computed once (HF and labml cache theta the same way).
        self.inv_freq = rope_inv_freq(self.rotary_dim, self.base)

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        # The one check left per call: the heads' width is only known once the model runs.
        if q.shape[-1] != self.head_dim:
            raise ValueError(
                f"RotaryPositions was built for head_dim={self.head_dim}, but the attention heads "
                f"have {q.shape[-1]} features (d_model / num_heads)."
            )
        return (_rope(q, positions, self.inv_freq, self.layout),
                _rope(k, positions, self.inv_freq, self.layout))
