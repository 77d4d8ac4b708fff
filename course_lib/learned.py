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

from ._validation import require_choice, require_int, require_positive_float, require_tensor
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
        """x (batch, seq, d_model) + row p of the table at each position p; positions (seq,) or
        (batch, seq), whole numbers in 0..max_len − 1.

        Positions on the CPU are read and checked (free there). On an accelerator reading them
        would make the host wait for the device at every forward, so only the length is checked,
        from shapes: seq tokens at 0, 1, ..., seq − 1 (what the model passes) need seq ≤ max_len.
        """
        return self._add_rows(x, positions, first=0)

    def _add_rows(self, x: torch.Tensor, positions: torch.Tensor, first: int) -> torch.Tensor:
        """x + rows ``first + p`` of the table, checked as ``embed`` says (``first`` is a host int,
        so the accelerator check from shapes still knows the last row a sequence needs)."""
        if positions.device.type == "cpu":
            needed = int(positions.max()) + first if positions.numel() else -1
            lowest = int(positions.min()) + first if positions.numel() else 0
        else:
            needed, lowest = positions.shape[-1] - 1 + first, first
        if lowest < 0:
            raise ValueError(
                f"Positions count from 0 (row p of the table is position p), got position "
                f"{lowest}. A learned table has no row for a negative position."
            )
        if needed >= self.max_len:
            raise ValueError(
                f"This learned table has rows for positions 0..{self.max_len - 1} "
                f"(max_len={self.max_len}), but the sequence needs position "
                f"{needed}. A learned table cannot look up a position it "
                "was not built with: use shorter sequences or a larger max_len."
            )
        return x + self.table(positions + first if first else positions)


# --- Chapter 04, part two: where a table starts, and how tables are resized ---------------------

#: Standard deviations the token table and the position table start from, (token, position).
#: OpenAI's GPT-2 code (src/model.py): wte 0.02, wpe 0.01. HF transformers' GPT-2 and BERT draw
#: both from initializer_range = 0.02. This course's models: nn.Embedding's default 1.0 for the
#: tokens, LearnedPositions' 0.02 for the positions.
INITIAL_STD = {
    "GPT-2 (OpenAI's code)": (0.02, 0.01),
    "GPT-2 (HF transformers)": (0.02, 0.02),
    "BERT (HF transformers)": (0.02, 0.02),
    "this course's models": (1.0, 0.02),
}


class RandomStartPositions(LearnedPositions):
    """A learned table read from a random first row while training. x (batch, seq, d_model) -> same.

    Training mode: each sequence of the batch gets its own start s, drawn uniformly from
    0..max_len - seq with torch's global generator (so ``seed_everything`` makes it repeatable),
    and its token i reads row s + i. Short training sequences thus reach every row of the table.
    Eval mode: every sequence starts at ``start`` (default 0), so ``start = 8`` places a sequence
    at positions 8, 9, ...

    Shifting absolute positions at random while training is SHAPE (Kiyono et al., 2021); the
    randomized positional encodings of Ruoss et al. (2023) go further and draw an ordered random
    subset of positions, not a contiguous run.
    """

    def __init__(self, max_len: int, d_model: int, init_std: float = 0.02, start: int = 0):
        super().__init__(max_len, d_model, init_std)
        self.start = require_int("start", start, minimum=0)

    @classmethod
    def from_table(cls, table: torch.Tensor, start: int = 0) -> RandomStartPositions:
        """A scheme (in eval mode) holding a copy of ``table`` (max_len, d_model), read from
        ``start``: put a trained or resized table into a model with ``model.position = ...``."""
        require_tensor("table", table, floating=True)
        if table.ndim != 2:
            raise ValueError(
                f"table must be 2-D (positions, features), got shape {tuple(table.shape)}."
            )
        scheme = cls(table.shape[0], table.shape[1], start=start)
        with torch.no_grad():
            scheme.table.weight.copy_(table)
        return scheme.eval()

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self._add_rows(x, positions, first=self.start)
        seq = len(positions)
        if seq > self.max_len:
            raise ValueError(
                f"A training sequence of {seq} tokens does not fit this table's "
                f"{self.max_len} rows (max_len={self.max_len}): use a larger max_len."
            )
        starts = torch.randint(0, self.max_len - seq + 1, (x.shape[0], 1))  # (batch, 1)
        return x + self.table(positions + starts.to(positions.device))    # rows (batch, seq)


def _require_table(table, new_len: int) -> int:
    require_tensor("table", table, floating=True)
    if table.ndim != 2 or table.shape[0] < 1:
        raise ValueError(
            f"table must be 2-D (positions, features) with at least one row, "
            f"got shape {tuple(table.shape)}."
        )
    return require_int("new_len", new_len, minimum=1)


#: Interpolation modes of ``interpolate_table``: "linear" (1-D), "bicubic" (what HF ViT's
#: interpolate_pos_encoding and timm's resample_abs_pos_embed use on their 2-D grid of patches,
#: here on a grid of one row), "nearest".
INTERPOLATION_MODES = ("linear", "bicubic", "nearest")


def interpolate_table(table: torch.Tensor, new_len: int, mode: str = "linear") -> torch.Tensor:
    """Resample a position table to ``new_len`` rows: table (n, d) -> (new_len, d), same dtype.

    Each feature is treated as a signal over positions and resampled with
    ``torch.nn.functional.interpolate(..., align_corners=False)``, as HF ViT's
    ``interpolate_pos_encoding`` and timm's ``resample_abs_pos_embed`` do: new row j reads the old
    table at the fractional position (j + 0.5)·n/new_len − 0.5. Growing the table stretches it:
    old row p lands near new row p·new_len/n, so every offset between rows grows by new_len/n.
    """
    new_len = _require_table(table, new_len)
    require_choice("mode", mode, INTERPOLATION_MODES)
    signal = table.T.unsqueeze(0)                                     # (1, d, n)
    if mode == "bicubic":                                             # as a 1-row image
        grid = F.interpolate(signal.unsqueeze(2), size=(1, new_len), mode="bicubic",
                             align_corners=False)                     # (1, d, 1, new_len)
        return grid[0, :, 0].T.contiguous()
    if mode == "nearest":
        return F.interpolate(signal, size=new_len, mode="nearest")[0].T.contiguous()
    return F.interpolate(signal, size=new_len, mode="linear", align_corners=False)[0].T.contiguous()


def tile_table(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Grow (or cut) a table by repeating its rows in order: table (n, d) -> (new_len, d).

    New row j is old row j mod n, Longformer's initialisation of its 4,096 rows from RoBERTa's 512
    (Beltagy et al., 2020). Offsets between rows stay exact inside each copy; row p and row p + n
    become identical.
    """
    new_len = _require_table(table, new_len)
    return table[torch.arange(new_len, device=table.device) % table.shape[0]]
