"""Chapter 03 — sinusoidal position encodings ("Attention Is All You Need", section 3.5).

    PE(p, 2i)   = sin(p · ω_i)
    PE(p, 2i+1) = cos(p · ω_i),      ω_i = base^(−2i/d),  i = 0 .. d/2 − 1

Each pair (2i, 2i+1) is a clock hand turning at angular speed ω_i: one turn
every 2π/ω_i positions, from 2π (i = 0) up to nearly base·2π (i = d/2 − 1).
Because a pair is (sin, cos) of the same angle, moving k positions on is a
2×2 rotation by k·ω_i — the same rotation for every p — which is why
PE(p + k) = M_k · PE(p) and why PE(p)·PE(p + k) = Σ_i cos(k·ω_i) depends on k only.

Layouts (same numbers, different order of the features):
    "interleaved"  sin, cos, sin, cos, ...       the paper, DistilBERT/XLM
    "half_split"   sin ... sin ‖ cos ... cos     Marian
tensor2tensor / fairseq / Whisper use the half-split layout *and a different exponent*,
ω_i = base^(−i/(d/2 − 1)): see ``tensor2tensor_sinusoidal_table``.

Why "half_split": it is the one name every course_lib module uses for this split (RoPE's pairs
(i, i + d/2) are the same idea, so ``course_lib.rope`` uses it too). It says what happens — the
features are split into a first half and a second half — as the course spec says it; "half" reads
as float16, "neox" names one model rather than a layout (Marian's table has it too), and HF's
``rotate_half`` names an operation on this layout, not the layout. The old names "halves" and
"half" raise a ValueError that gives the new one.
"""

from __future__ import annotations

import math

import torch

from ._validation import (
    require_choice,
    require_even,
    require_int,
    require_layout,
    require_positive_float,
)
from .rope import rope_inv_freq
from .schemes import PositionScheme


def sinusoid_frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(d_model/2,) angular frequencies ω_i = base^(−2i/d_model), from 1 down to nearly 1/base.

    A thin alias of ``rope_inv_freq``: RoPE (chapter 05) turns its pairs with these same clocks.
    Only the name of the width differs, so bad input is reported as ``d_model``.
    """
    require_even("d_model", d_model, minimum=2)
    return rope_inv_freq(d_model, base)


def _angles(num_positions: int, frequencies: torch.Tensor) -> torch.Tensor:
    # (num_positions, d/2) angles p·ω_i, in float64 so that p = 10^5 keeps its digits.
    return torch.arange(num_positions, dtype=torch.float64)[:, None] * frequencies[None, :]


def _table(num_positions: int, frequencies: torch.Tensor, layout: str) -> torch.Tensor:
    """``sinusoidal_table`` without its checks, for any (d/2,) frequencies: (num_positions, d)."""
    angles = _angles(num_positions, frequencies)
    if layout == "half_split":
        return torch.cat([angles.sin(), angles.cos()], dim=-1).float()  # sin … sin ‖ cos … cos
    table = torch.empty(num_positions, 2 * len(frequencies), dtype=torch.float64)
    table[:, 0::2] = angles.sin()  # PE(p, 2i)   = sin(p·ω_i)
    table[:, 1::2] = angles.cos()  # PE(p, 2i+1) = cos(p·ω_i)
    return table.float()


def sinusoidal_table(num_positions: int, d_model: int, base: float = 10000.0,
                     layout: str = "interleaved") -> torch.Tensor:
    """(num_positions, d_model) float32 table; row p is the encoding of position p.

    layout="interleaved": sin at even features, cos at odd (the paper).
    layout="half_split": all sines, then all cosines (the same frequencies).
    """
    require_int("num_positions", num_positions, minimum=1)
    layout = require_layout(layout)
    return _table(num_positions, sinusoid_frequencies(d_model, base), layout)


def tensor2tensor_sinusoidal_table(num_positions: int, d_model: int,
                                   base: float = 10000.0) -> torch.Tensor:
    """(num_positions, d_model) [sin ‖ cos] with ω_i = base^(−i/(d/2 − 1)), as tensor2tensor has it.

    The same table as fairseq's and Whisper's. Its slowest clock is exactly 1/base (the paper's
    stops at base^(−(d−2)/d)). fairseq also starts counting positions at padding_idx + 1; this
    table starts at 0.
    """
    require_even("d_model", d_model, minimum=4)
    require_int("num_positions", num_positions, minimum=1)
    require_positive_float("base", base)
    half = d_model // 2
    frequencies = torch.exp(-math.log(base) / (half - 1) * torch.arange(half, dtype=torch.float64))
    return _table(num_positions, frequencies, "half_split")


def half_split_permutation(d_model: int) -> torch.Tensor:
    """(d_model,) indices P = [0, 2, 4, …, 1, 3, 5, …]: half_split table == interleaved table[:, P].

    The same P relates RoPE's two layouts: half_split(x[..., P]) == interleaved(x)[..., P].
    """
    require_even("d_model", d_model, minimum=2)
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def offset_rotation(offset: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(d_model, d_model) matrix M_k with PE(p + k) = M_k @ PE(p) for every p (interleaved layout).

    Block-diagonal: pair i is rotated by the angle k·ω_i,
        [sin(a + b)]   [ cos b   sin b] [sin a]
        [cos(a + b)] = [−sin b   cos b] [cos a],    a = p·ω_i, b = k·ω_i.
    M_k depends on k only, never on p. offset may be negative (move back).
    """
    offset = require_int("offset", offset)
    b = offset * sinusoid_frequencies(d_model, base)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    m[0::2, 0::2] = torch.diag(b.cos())
    m[0::2, 1::2] = torch.diag(b.sin())
    m[1::2, 0::2] = torch.diag(-b.sin())
    m[1::2, 1::2] = torch.diag(b.cos())
    return m.float()


class SinusoidalPositions(PositionScheme):
    """Add (or concatenate) the sinusoidal table. x (batch, seq, d_token) -> (batch, seq, d_model).

    dim: width of the table. combine="add": x + PE (dim must equal x's width);
    combine="concat": [x ‖ PE], so the model's d_model = d_token + dim.
    token_scale: multiply the token embeddings first (the paper uses √d_model).
    """

    def __init__(self, dim: int, base: float = 10000.0, layout: str = "interleaved",
                 combine: str = "add", token_scale: float = 1.0):
        super().__init__()
        self.dim = require_even("dim", dim, minimum=2)
        self.base = require_positive_float("base", base)
        self.layout = require_layout(layout)
        self.combine = require_choice("combine", combine, ("add", "concat"))
        self.token_scale = require_positive_float("token_scale", token_scale)
        self.extra_dims = dim if combine == "concat" else 0
        self.frequencies = sinusoid_frequencies(dim, base)  # ω_i, computed once

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        table = _table(len(positions), self.frequencies, self.layout).to(x.dtype)  # (seq, dim)
        table = table[None].expand(x.shape[0], -1, -1)  # (batch, seq, dim)
        x = x * self.token_scale
        if self.combine == "concat":
            return torch.cat([x, table], dim=-1)
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"combine='add' needs the table width ({self.dim}) to equal the token width "
                f"({x.shape[-1]})."
            )
        return x + table
