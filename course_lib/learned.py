"""Chapter 04 — a learned table of position vectors, as in BERT and GPT-2.

    x_p <- x_p + P[p],   P an nn.Embedding(max_len, d_model)

A row of P is trained only if some training sequence reaches that position;
positions at or past ``max_len`` have no row at all.

Reference conventions (checked against HF transformers in tests/test_learned.py):
BERT and GPT-2 look up rows 0..n-1; RoBERTa starts at row padding_idx + 1 = 2,
which is why its checkpoints carry 514 rows for 512 tokens.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import require_int, require_positive_float, require_tensor
from .schemes import PositionScheme

#: Position tables of well-known checkpoints: (rows, width), from their published configs
#: (max_position_embeddings / n_positions, hidden_size / n_embd).
PUBLISHED_TABLES = {
    "BERT-base": (512, 768),
    "BERT-large": (512, 1024),
    "GPT-2 small": (1024, 768),
    "GPT-2 XL": (1024, 1600),
    "RoBERTa-base": (514, 768),
}


def position_similarity(table: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of rows: table (n, d) -> (n, n).

    Entry (p, q) is cos(angle between P[p] and P[q]); the diagonal is 1.
    An all-zero row has no direction: its similarities come out as 0.
    """
    require_tensor("table", table, floating=True)
    if table.ndim != 2:
        raise ValueError(
            f"table must be 2-D (positions, features), got shape {tuple(table.shape)}."
        )
    unit = F.normalize(table, dim=-1)       # each row scaled to length 1 (a zero row stays zero)
    return unit @ unit.T


class LearnedPositions(PositionScheme):
    """Add a trainable vector per position. x (batch, seq, d_model) -> same shape.

    ``init_std`` is the standard deviation of the random initial rows. The
    default 0.02 is BERT's and GPT-2's ``initializer_range`` (and nanoGPT's);
    ``nn.Embedding`` on its own would start at 1.0.
    """

    def __init__(self, max_len: int, d_model: int, init_std: float = 0.02):
        super().__init__()
        require_int("max_len", max_len, minimum=1)
        require_int("d_model", d_model, minimum=1)
        require_positive_float("init_std", init_std)
        self.max_len = max_len
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, mean=0.0, std=init_std)

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if len(positions) and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"This learned table has rows for positions 0..{self.max_len - 1} "
                f"(max_len={self.max_len}), but the sequence needs position "
                f"{int(positions.max())}. A learned table cannot look up a position it "
                "was not built with: use shorter sequences or a larger max_len."
            )
        return x + self.table(positions)
