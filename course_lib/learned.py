"""Chapter 04 — a learned table of position vectors, as in BERT and GPT-2.

    x_p <- x_p + P[p],   P an nn.Embedding(max_len, d_model)

A row of P is trained only if some training sequence reaches that position;
positions at or past ``max_len`` have no row at all.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validation import require_int
from .schemes import PositionScheme


class LearnedPositions(PositionScheme):
    """Add a trainable vector per position. x (batch, seq, d_model) -> same shape."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        require_int("max_len", max_len, minimum=1)
        require_int("d_model", d_model, minimum=1)
        self.max_len = max_len
        self.table = nn.Embedding(max_len, d_model)

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if len(positions) and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"This learned table has rows for positions 0..{self.max_len - 1} "
                f"(max_len={self.max_len}), but the sequence needs position "
                f"{int(positions.max())}. A learned table cannot look up a position it "
                "was not built with: use shorter sequences or a larger max_len."
            )
        return x + self.table(positions)
