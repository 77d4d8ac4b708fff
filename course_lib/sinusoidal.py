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
    "halves"       sin ... sin ‖ cos ... cos     Marian
tensor2tensor / fairseq / Whisper use halves *and a different exponent*,
ω_i = base^(−i/(d/2 − 1)): see ``tensor2tensor_sinusoidal_table``.
"""

from __future__ import annotations

import math

import torch

from ._validation import require_choice, require_even, require_int, require_positive_float
from .schemes import PositionScheme

LAYOUTS = ("interleaved", "halves")


def sinusoid_frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(d_model/2,) angular frequencies ω_i = base^(−2i/d_model), from 1 down to nearly 1/base."""
    require_even("d_model", d_model, minimum=2)
    require_positive_float("base", base)
    return base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)


def _angles(num_positions: int, frequencies: torch.Tensor) -> torch.Tensor:
    # (num_positions, d/2) angles p·ω_i, in float64 so that p = 10^5 keeps its digits.
    return torch.arange(num_positions, dtype=torch.float64)[:, None] * frequencies[None, :]


def sinusoidal_table(num_positions: int, d_model: int, base: float = 10000.0, layout: str = "interleaved") -> torch.Tensor:
    """(num_positions, d_model) float32 table; row p is the encoding of position p.

    layout="interleaved": sin at even features, cos at odd (the paper).
    layout="halves": all sines, then all cosines (the same frequencies).
    """
    require_int("num_positions", num_positions, minimum=1)
    require_choice("layout", layout, LAYOUTS)
    angles = _angles(num_positions, sinusoid_frequencies(d_model, base))
    if layout == "halves":
        return torch.cat([angles.sin(), angles.cos()], dim=-1).float()
    table = torch.empty(num_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = angles.sin()
    table[:, 1::2] = angles.cos()
    return table.float()


def tensor2tensor_sinusoidal_table(num_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(num_positions, d_model) [sin ‖ cos] with ω_i = base^(−i/(d/2 − 1)), as in tensor2tensor, fairseq, Whisper.

    Its slowest clock is exactly 1/base (the paper's stops at base^(−(d−2)/d)).
    fairseq also starts counting positions at padding_idx + 1; this table starts at 0.
    """
    require_even("d_model", d_model, minimum=4)
    require_int("num_positions", num_positions, minimum=1)
    require_positive_float("base", base)
    half = d_model // 2
    frequencies = torch.exp(-math.log(base) / (half - 1) * torch.arange(half, dtype=torch.float64))
    angles = _angles(num_positions, frequencies)
    return torch.cat([angles.sin(), angles.cos()], dim=-1).float()


def halves_permutation(d_model: int) -> torch.Tensor:
    """(d_model,) indices P with halves_table == interleaved_table[:, P]: P = [0, 2, 4, …, 1, 3, 5, …]."""
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

    def __init__(self, dim: int, base: float = 10000.0, layout: str = "interleaved", combine: str = "add",
                 token_scale: float = 1.0):
        super().__init__()
        require_even("dim", dim, minimum=2)
        self.dim = dim
        self.base = require_positive_float("base", base)
        self.layout = require_choice("layout", layout, LAYOUTS)
        self.combine = require_choice("combine", combine, ("add", "concat"))
        self.token_scale = require_positive_float("token_scale", token_scale)
        self.extra_dims = dim if combine == "concat" else 0

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        table = sinusoidal_table(len(positions), self.dim, self.base, self.layout).to(x.dtype)
        table = table[None].expand(x.shape[0], -1, -1)
        x = x * self.token_scale
        if self.combine == "concat":
            return torch.cat([x, table], dim=-1)
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"combine='add' needs the table width ({self.dim}) to equal the token width ({x.shape[-1]})."
            )
        return x + table
