"""Chapter 01 — the naive idea: give every token its index as a number.

"Lion kills deer" becomes [lion, 0], [kills, 1], [deer, 2] (concatenate), or
every feature of token p is shifted by p (add). Both break the order
blindness of chapter 00; chapter 01 measures what they cost.
"""

from __future__ import annotations

import torch

from ._validation import require_choice
from .schemes import PositionScheme


class IntegerPosition(PositionScheme):
    """Append the raw index p as one extra feature (``"concat"``) or add p to every feature (``"add"``).

    concat: x (batch, seq, d-1) -> (batch, seq, d);  add: x (batch, seq, d) -> same shape.
    """

    def __init__(self, mode: str = "concat"):
        super().__init__()
        self.mode = require_choice("mode", mode, ("concat", "add"))
        self.extra_dims = 1 if mode == "concat" else 0

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        p = positions.to(x.dtype)[:, None]  # (seq, 1): the index as a number
        if self.mode == "add":
            return x + p
        return torch.cat([x, p.expand(x.shape[0], -1, -1)], dim=-1)
