"""Chapter 05 — rotary position embeddings (RoPE; Su et al., "RoFormer", 2021).

Split a query or key vector of width head_dim into pairs, and turn pair i of
the vector at position m by the angle m·θ_i, with θ_i = base^(−2i/head_dim):

    [x_a, x_b] -> [x_a cos mθ_i − x_b sin mθ_i,  x_a sin mθ_i + x_b cos mθ_i]

A rotation by mθ on q and by nθ on k leaves q·k depending on (m − n)θ only, so
attention scores see the offset, not the absolute positions. Values are never
rotated.

Two conventions pair the features differently (same maths, permuted features):
    "interleaved"  pairs (0, 1), (2, 3), ...            RoFormer, Meta's Llama code, GPT-J, torchtune
    "half"         pairs (i, i + head_dim/2)            GPT-NeoX, HF Llama (``rotate_half``)
"""

from __future__ import annotations

import torch

from ._validation import require_choice, require_even, require_int, require_positive_float, require_tensor
from .schemes import PositionScheme

LAYOUTS = ("interleaved", "half")


def rope_inv_freq(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """(head_dim/2,) float64 angular frequencies θ_i = base^(−2i/head_dim): radians per position for pair i."""
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


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0, layout: str = "interleaved"):
    """cos and sin of every angle m·θ_i, laid out to match ``layout``: two (seq, head_dim) float64 tensors.

    "half" repeats the head_dim/2 angles as [angles ‖ angles] (HF's ``torch.cat((freqs, freqs))``);
    "interleaved" repeats each angle twice in a row (θ_0, θ_0, θ_1, θ_1, ...).
    """
    require_choice("layout", layout, LAYOUTS)
    angles = positions.to(torch.float64)[..., None] * rope_inv_freq(head_dim, base)   # (..., seq, head_dim/2)
    angles = torch.cat((angles, angles), dim=-1) if layout == "half" else angles.repeat_interleave(2, dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0,
               layout: str = "interleaved", rotary_dim: int | None = None) -> torch.Tensor:
    """Rotate x (..., seq, head_dim) by its positions; returns the same shape and dtype.

    ``positions``: (seq,) or broadcastable to x's leading dims + (seq,); default 0, 1, ..., seq − 1.
    ``rotary_dim``: rotate only the first rotary_dim features and pass the rest through (partial
    rotary, as GPT-J's rotary_dim and GPT-NeoX's rotary_pct); default all of head_dim.
    """
    require_tensor("x", x, min_ndim=2, floating=True)
    require_choice("layout", layout, LAYOUTS)
    head_dim, seq = x.shape[-1], x.shape[-2]
    if rotary_dim is None:
        rotary_dim = require_even("x.shape[-1] (head_dim)", head_dim, minimum=2)
    require_even("rotary_dim", rotary_dim, minimum=2)
    if rotary_dim > head_dim:
        raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed x's last dimension ({head_dim}).")
    if positions is None:
        positions = torch.arange(seq, device=x.device)
    require_tensor("positions", positions, min_ndim=1)
    if positions.shape[-1] != seq:
        raise ValueError(
            f"positions must give one position per token: its last dimension is {positions.shape[-1]}, "
            f"but x has {seq} tokens (x.shape[-2])."
        )
    rotated, passed = x[..., :rotary_dim], x[..., rotary_dim:]
    cos, sin = rope_cos_sin(positions, rotary_dim, base, layout)
    turn = rotate_half if layout == "half" else rotate_every_two
    # Angles are exact in float64; the rotation runs in x's precision (at least float32, so half-precision
    # inputs are rounded once, at the end).
    work = torch.promote_types(x.dtype, torch.float32)
    rotated = rotated.to(work)
    out = rotated * cos.to(work) + turn(rotated) * sin.to(work)
    return torch.cat((out.to(x.dtype), passed), dim=-1)


def apply_rope_complex(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """The same rotation as Meta's Llama code writes it: pairs (x_2i, x_2i+1) as complex numbers times e^{i m θ_i}.

    Interleaved layout only (that is how pairs become complex numbers); x (..., seq, head_dim), float32 or float64.
    """
    require_tensor("x", x, min_ndim=2, floating=True)
    head_dim, seq = x.shape[-1], x.shape[-2]
    require_even("x.shape[-1] (head_dim)", head_dim, minimum=2)
    positions = torch.arange(seq, device=x.device) if positions is None else positions
    angles = positions.to(torch.float64)[..., None] * rope_inv_freq(head_dim, base)
    work = torch.promote_types(x.dtype, torch.float32)
    rotations = torch.polar(torch.ones_like(angles), angles).to(torch.complex128 if work == torch.float64
                                                                else torch.complex64)   # e^{i m θ_i}
    pairs = torch.view_as_complex(x.to(work).reshape(*x.shape[:-1], head_dim // 2, 2).contiguous())
    return torch.view_as_real(pairs * rotations).flatten(-2).to(x.dtype)


class RotaryPositions(PositionScheme):
    """RoPE as a course position scheme: rotates every head's q and k (never v) inside attention."""

    def __init__(self, head_dim: int, base: float = 10000.0, layout: str = "interleaved",
                 rotary_dim: int | None = None):
        super().__init__()
        self.head_dim = require_even("head_dim", head_dim, minimum=2)
        self.base = require_positive_float("base", base)
        self.layout = require_choice("layout", layout, LAYOUTS)
        self.rotary_dim = head_dim if rotary_dim is None else require_even("rotary_dim", rotary_dim, minimum=2)
        if self.rotary_dim > head_dim:
            raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed head_dim ({head_dim}).")

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        if q.shape[-1] != self.head_dim:
            raise ValueError(
                f"RotaryPositions was built for head_dim={self.head_dim}, but the attention heads have "
                f"{q.shape[-1]} features (d_model / num_heads)."
            )
        kwargs = dict(base=self.base, layout=self.layout, rotary_dim=self.rotary_dim)
        return apply_rope(q, positions, **kwargs), apply_rope(k, positions, **kwargs)
