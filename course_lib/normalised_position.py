"""Chapter 02 — keep the index small: divide it by the length.

    by_length:   p / (n - 1)   in [0, 1] for every sequence, whatever its length n
    by_max_len:  p / max_len   the same value for the same p at every length

The first is bounded but inconsistent: index 3 means 0.2 in a 16-token
sequence and 0.1 in a 31-token one, and neighbours drift together as n grows
(their gap is 1/(n-1)). The second is consistent but has a hard wall at
max_len, past which the values leave the range the model was trained on.
"""

from __future__ import annotations

import torch

from ._validation import require_choice, require_int
from .schemes import PositionScheme

MODES = ("by_length", "by_max_len")


def normalised_positions(
    seq_len: int, mode: str = "by_length", max_len: int | None = None
) -> torch.Tensor:
    """(seq_len,) float positions 0..seq_len-1 divided by (seq_len - 1) or by ``max_len``."""
    require_int("seq_len", seq_len, minimum=1)
    require_choice("mode", mode, MODES)
    positions = torch.arange(seq_len, dtype=torch.float32)
    if mode == "by_length":
        # A one-token sequence has no "end" to divide by; its only position is 0.
        return positions / max(seq_len - 1, 1)
    if max_len is None:
        raise ValueError(
            'mode="by_max_len" needs max_len, the length the positions are divided by.'
        )
    return positions / require_int("max_len", max_len, minimum=1)


class NormalisedPosition(PositionScheme):
    """Append the normalised position as one extra feature. x (batch, seq, d-1) -> (batch, seq,
    d)."""

    extra_dims = 1

    def __init__(self, mode: str = "by_length", max_len: int | None = None):
        super().__init__()
        self.mode = require_choice("mode", mode, MODES)
        if mode == "by_max_len":
            if max_len is None:
                raise ValueError(
                    'mode="by_max_len" needs max_len, the length the positions are divided by.'
                )
            require_int("max_len", max_len, minimum=1)
        self.max_len = max_len

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        p = normalised_positions(len(positions), self.mode, self.max_len).to(x.dtype)
        return torch.cat([x, p[None, :, None].expand(x.shape[0], -1, -1)], dim=-1)
