"""Chapter 08's experiment: a task on a grid of patches where the 2-D layout matters.

An "image" is a (height, width) grid of random token ids, one per patch. At every patch the model
outputs the token of its neighbour in one direction:

    direction "above":  label[r, c] = token[r − 1, c]      (none in row 0: IGNORE_INDEX)
    direction "left":   label[r, c] = token[r, c − 1]      (none in column 0)

A Transformer reads the grid as one sequence, flattened in raster order (row by row, as ViT's
``flatten(2)``): patch (r, c) is token r·W + c. So "left" is the raster offset −1 at every width,
but "above" is the raster offset −W, which changes with the width: a 1-D scheme over the raster
index can learn −W at the width it was trained on, and a 2-D scheme that sees (row, col) can learn
"one row up" once, at any width. Trained on several shapes (``MIXED_GRID_EXPERIMENT``), a 1-D
scheme cannot even fit them: 4×8 and 8×4 grids give it the same positions 0..31, with "above" at
−8 in one and −4 in the other, so the same predictions can be right on one layout only.

    model = train_grid_model("rope_2d", seed=0)              # trained once, then cached
    grid_accuracy(model, GRID_EXPERIMENT, sizes=[(6, 6), (6, 9)], seed=0)   # {(6, 6): …, (6, 9): …}

The recipe (what ``train_grid_model`` runs, defined once like ``course_lib.experiments``):

    seed_everything(seed)                                         # model initialisation
    model = GridTransformer(vocab, vocab, d_model, num_heads, num_layers, position=scheme)
    train(model, config.training_task(), steps, batch_size, lr, seed=seed, weight_decay)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import require_choice, require_int, require_tensor
from .attention import TinyTransformer
from .learned import LearnedPositions
from .parallel import TrainingCache
from .positions_2d import (
    AxialRotaryPositions,
    Sinusoidal2DPositions,
    patch_grid,
    position_similarity_maps,
)
from .rope import RotaryPositions
from .schemes import NoPositions, PositionScheme
from .sinusoidal import SinusoidalPositions
from .tasks import IGNORE_INDEX
from .training import accuracy, seed_everything, train

#: direction name -> (row step, column step) from a patch to the neighbour whose token it outputs
GRID_DIRECTIONS = {
    "above": (-1, 0),
    "below": (1, 0),
    "left": (0, -1),
    "right": (0, 1),
    "above_left": (-1, -1),
    "above_right": (-1, 1),
    "below_left": (1, -1),
    "below_right": (1, 1),
}


def _require_size(name: str, height, width) -> tuple[int, int]:
    return (require_int(f"{name} height", height, minimum=1),
            require_int(f"{name} width", width, minimum=1))


@dataclass(frozen=True)
class GridCopyTask:
    """At every patch output the token of its neighbour in ``direction`` (``GRID_DIRECTIONS``).

    Tokens are uniform ids in 0..vocab_size − 1; a patch with no such neighbour (the first row for
    "above") has label ``IGNORE_INDEX``. ``num_classes == vocab_size``.
    """

    direction: str = "above"
    vocab_size: int = 16
    height: int = 6
    width: int = 6

    def __post_init__(self):
        require_choice("direction", self.direction, GRID_DIRECTIONS)
        require_int("vocab_size", self.vocab_size, minimum=2)
        _require_size("grid", self.height, self.width)

    @property
    def num_classes(self) -> int:
        return self.vocab_size

    @property
    def step(self) -> tuple[int, int]:
        """(row step, column step) from a patch to its neighbour: (−1, 0) for "above"."""
        return GRID_DIRECTIONS[self.direction]

    def labels_for(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (batch, H, W) integers -> labels (batch, H, W): the neighbour's token, or
        IGNORE_INDEX where the neighbour would lie outside the grid."""
        require_tensor("tokens", tokens)
        if tokens.ndim != 3 or tokens.is_floating_point():
            raise ValueError(f"tokens must be integer ids of shape (batch, height, width), got "
                             f"shape {tuple(tokens.shape)}, dtype {tokens.dtype}.")
        dr, dc = self.step
        height, width = tokens.shape[1:]
        labels = torch.full_like(tokens, IGNORE_INDEX)
        # label[r, c] = token[r + dr, c + dc] where 0 <= r + dr < H and 0 <= c + dc < W
        rows, cols = slice(max(0, -dr), min(height, height - dr)), slice(max(0, -dc),
                                                                         min(width, width - dc))
        src_rows = slice(rows.start + dr, rows.stop + dr)
        src_cols = slice(cols.start + dc, cols.stop + dc)
        labels[:, rows, cols] = tokens[:, src_rows, src_cols]
        return labels

    def sample(self, batch_size: int, generator: torch.Generator | None = None,
               height: int | None = None, width: int | None = None):
        """tokens (batch, H, W) int64 and labels (batch, H, W); H and W default to the task's
        training shape."""
        require_int("batch_size", batch_size, minimum=1)
        height, width = _require_size("grid", self.height if height is None else height,
                                      self.width if width is None else width)
        tokens = torch.randint(self.vocab_size, (batch_size, height, width), generator=generator)
        return tokens, self.labels_for(tokens)


@dataclass(frozen=True)
class MixedGridSizes:
    """A grid task trained at several shapes: each batch draws one (height, width) from ``sizes``
    (one shape per batch, so a batch stays a rectangle)."""

    task: GridCopyTask
    sizes: tuple[tuple[int, int], ...]

    def __post_init__(self):
        if not self.sizes or not all(isinstance(s, tuple) and len(s) == 2 for s in self.sizes):
            raise ValueError(f"sizes must be a non-empty tuple of (height, width) pairs, "
                             f"got {self.sizes!r}.")
        for height, width in self.sizes:
            _require_size("each size's", height, width)

    @property
    def num_classes(self) -> int:
        return self.task.num_classes

    def sample(self, batch_size: int, generator: torch.Generator | None = None,
               height: int | None = None, width: int | None = None):
        """tokens, labels (batch, H, W): the given shape, else one of ``sizes`` drawn from
        ``generator``."""
        if height is None and width is None:
            pick = int(torch.randint(len(self.sizes), (1,), generator=generator))
            height, width = self.sizes[pick]
        return self.task.sample(batch_size, generator, height=height, width=width)


class GridTransformer(TinyTransformer):
    """``TinyTransformer`` on a grid: tokens (batch, H, W) -> logits (batch, H, W, num_classes).

    The grid is flattened in raster order (patch (r, c) -> token r·W + c) and the position scheme
    gets the positions it asks for: (H·W, 2) (row, col) pairs if its ``grid_positions`` is True
    (the 2-D schemes), else the raster index (H·W,), so a 1-D scheme sees one long sequence.
    With a ``pool`` ("mean" or "first") the output is one answer per grid, (batch, num_classes).
    """

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 32, num_heads: int = 1,
                 num_layers: int = 1, position: PositionScheme | None = None,
                 causal: bool = False, pool: str | None = None):
        super().__init__(vocab_size, num_classes, d_model=d_model, num_heads=num_heads,
                         num_layers=num_layers, position=position, causal=causal, pool=pool)

    def positions_for(self, height: int, width: int, device=None) -> torch.Tensor:
        """What the scheme receives for an H×W grid: (H·W, 2) (row, col) or (H·W,) raster."""
        if self.position.grid_positions:
            return patch_grid(height, width, device=device)
        return torch.arange(height * width, device=device)      # patch (r, c) is token r·W + c

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        require_tensor("tokens", tokens)
        if tokens.ndim != 3 or tokens.is_floating_point():
            raise ValueError(f"tokens must be integer ids of shape (batch, height, width), got "
                             f"shape {tuple(tokens.shape)}, dtype {tokens.dtype}.")
        batch, height, width = tokens.shape
        positions = self.positions_for(height, width, tokens.device)
        x = self.position.embed(self.token_embedding(tokens.flatten(1)), positions)
        for block in self.blocks:
            x = block(x, self.position, positions)
        x = self.ln_final(x)                                  # (batch, H·W, d_model)
        if self.pool == "mean":
            return self.head(x.mean(dim=1))
        if self.pool == "first":
            return self.head(x[:, 0])
        return self.head(x).view(batch, height, width, -1)


@dataclass(frozen=True)
class GridExperiment:
    """Task, model size and optimiser of chapter 08's experiment (frozen: it is a cache key)."""

    direction: str = "above"
    vocab_size: int = 16
    height: int = 6              # every training grid has this shape (unless train_sizes)
    width: int = 6
    train_sizes: tuple[tuple[int, int], ...] = ()   # if given, each batch draws its shape here
    test_sizes: tuple[tuple[int, int], ...] = ((6, 6), (4, 6), (6, 4), (9, 6), (6, 9), (9, 9))
    max_cells: int = 144         # rows of the 1-D learned table: grids up to 12×12
    d_model: int = 32
    num_heads: int = 2
    num_layers: int = 1
    steps: int = 200
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.01

    def __post_init__(self):
        require_choice("direction", self.direction, GRID_DIRECTIONS)
        _require_size("training grid", self.height, self.width)
        for field in ("train_sizes", "test_sizes"):      # tuples of int pairs: a hashable key
            sizes = getattr(self, field)
            if not isinstance(sizes, (tuple, list)) or any(
                    not isinstance(size, (tuple, list)) or len(size) != 2 for size in sizes):
                raise ValueError(f"{field} must be a tuple of (height, width) pairs, "
                                 f"got {sizes!r}.")
            object.__setattr__(self, field, tuple(_require_size(f"a {field} entry's", *size)
                                                  for size in sizes))
        sizes = ((self.height, self.width), *self.train_sizes, *self.test_sizes)
        largest = max(h * w for h, w in sizes)
        if require_int("max_cells", self.max_cells, minimum=1) < largest:
            raise ValueError(f"max_cells ({self.max_cells}) must cover the largest grid "
                             f"({largest} patches): the 1-D learned table needs a row for each.")

    def task(self) -> GridCopyTask:
        """The task at the training shape (``grid_accuracy`` asks for other shapes)."""
        return GridCopyTask(self.direction, self.vocab_size, self.height, self.width)

    def training_task(self) -> GridCopyTask | MixedGridSizes:
        """``task()``, or ``task()`` at the ``train_sizes`` mixed."""
        return MixedGridSizes(self.task(), self.train_sizes) if self.train_sizes else self.task()

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads


#: trained on 6×6 grids only
GRID_EXPERIMENT = GridExperiment()
#: trained on five shapes: two with one patch count (4×8, 8×4) where "above" is −8 and −4 in
#: raster order, so a 1-D scheme, which sees the same positions 0..31 for both, cannot be right
#: on both; tested inside the trained range and past it (12×12)
MIXED_GRID_EXPERIMENT = GridExperiment(
    train_sizes=((4, 4), (4, 8), (8, 4), (8, 8), (6, 6)),
    test_sizes=((6, 6), (4, 8), (8, 4), (5, 7), (6, 9), (9, 9), (12, 12)))


# scheme name -> how to build it for a configuration; the 1-D ones read the raster index
GRID_SCHEMES = {
    "none": lambda c: NoPositions(),
    "learned": lambda c: LearnedPositions(c.max_cells, c.d_model),
    "sinusoidal": lambda c: SinusoidalPositions(c.d_model),
    "rope": lambda c: RotaryPositions(c.head_dim),
    "sinusoidal_2d": lambda c: Sinusoidal2DPositions(c.d_model),
    "rope_2d": lambda c: AxialRotaryPositions(c.head_dim),
}


def grid_scheme(name: str, config: GridExperiment = GRID_EXPERIMENT) -> PositionScheme:
    """A fresh, untrained position scheme of chapter 08's experiment, by name (``GRID_SCHEMES``)."""
    return GRID_SCHEMES[require_choice("scheme", name, GRID_SCHEMES)](config)


def _train_once(name: str, seed: int,
                config: GridExperiment) -> tuple[nn.Module, tuple[float, ...]]:
    seed_everything(seed)
    model = GridTransformer(config.vocab_size, config.vocab_size, d_model=config.d_model,
                            num_heads=config.num_heads, num_layers=config.num_layers,
                            position=grid_scheme(name, config))
    losses = train(model, config.training_task(), steps=config.steps, batch_size=config.batch_size,
                   lr=config.lr, seed=seed, progress=False, weight_decay=config.weight_decay)
    return model, tuple(losses)


# (scheme, seed, config) -> (model, losses); missing entries are trained side by side
_TRAINED = TrainingCache(_train_once)


def _check_job(scheme, seed, config) -> tuple[str, int, GridExperiment]:
    if not isinstance(config, GridExperiment):
        raise ValueError(f"config must be a GridExperiment, got {type(config).__name__}.")
    seed = require_int("seed", seed, minimum=0)
    require_choice("scheme", scheme, GRID_SCHEMES)
    return scheme, seed, config


def _check_jobs(jobs, config: GridExperiment) -> list[tuple[str, int, GridExperiment]]:
    checked = []
    for job in jobs:
        job = tuple(job) if isinstance(job, (tuple, list)) else (job,)
        if len(job) not in (2, 3):
            raise ValueError(f"each job must be (scheme, seed) or (scheme, seed, config), "
                             f"got {job!r}.")
        checked.append(_check_job(*job, *(() if len(job) == 3 else (config,))))
    return checked


def train_grid_model(scheme: str, seed: int = 0, config: GridExperiment = GRID_EXPERIMENT,
                     return_losses: bool = False):
    """Chapter 08's ``GridTransformer`` for ``scheme`` (in ``GRID_SCHEMES``), trained with ``seed``.

    tokens (batch, H, W) -> logits (batch, H, W, vocab_size), in eval mode; with
    ``return_losses=True``, ``(model, losses)``. Cached per (scheme, seed, config); each call
    returns its own copy.
    """
    model, losses = _TRAINED.get(*_check_job(scheme, seed, config))
    model = copy.deepcopy(model)
    return (model, list(losses)) if return_losses else model


def train_grid_models(jobs, config: GridExperiment = GRID_EXPERIMENT) -> list[nn.Module]:
    """``[train_grid_model(*job) for job in jobs]``, the missing ones trained side by side (one per
    core, bit for bit the one-by-one models). A job is ``(scheme, seed)`` or
    ``(scheme, seed, config)``."""
    return [copy.deepcopy(model) for model, _ in _TRAINED.get_many(_check_jobs(jobs, config))]


def start_grid_models(jobs, config: GridExperiment = GRID_EXPERIMENT) -> int:
    """Start training ``jobs`` (as in ``train_grid_models``) in the background and return at once;
    returns how many trainings were started (0 where they cannot run side by side)."""
    return _TRAINED.start(_check_jobs(jobs, config))


@torch.no_grad()
def grid_accuracy(model: nn.Module, task_or_config, sizes, seed: int = 0,
                  batch_size: int = 256) -> dict[tuple[int, int], float]:
    """{(height, width): accuracy} of ``model`` on fresh grids of each size.

    ``task_or_config``: a ``GridCopyTask`` or a ``GridExperiment`` (its ``task()``). Each size is
    scored on ``batch_size`` grids drawn from a generator seeded with ``seed`` (the same grids for
    every model), patches without a label left out.
    """
    task = task_or_config.task() if isinstance(task_or_config, GridExperiment) else task_or_config
    if not isinstance(task, GridCopyTask):
        raise ValueError(f"task_or_config must be a GridCopyTask or a GridExperiment, "
                         f"got {type(task_or_config).__name__}.")
    seed = require_int("seed", seed, minimum=0)
    require_int("batch_size", batch_size, minimum=1)
    sizes = [tuple(size) for size in sizes]
    if not sizes or any(len(size) != 2 for size in sizes):
        raise ValueError(f"sizes must be (height, width) pairs, got {sizes!r}.")
    model.eval()
    result = {}
    for height, width in sizes:
        generator = torch.Generator().manual_seed(seed)
        tokens, labels = task.sample(batch_size, generator, height=height, width=width)
        result[(height, width)] = accuracy(model, tokens, labels)   # flattens the grid
    return result


@torch.no_grad()
def grid_accuracy_by_patch(model: nn.Module, tokens: torch.Tensor,
                           labels: torch.Tensor) -> torch.Tensor:
    """Accuracy at each patch, averaged over the batch: (H, W) floats, nan where no label.

    ``course_lib.training.accuracy_by_position`` wants (batch, seq) labels; this is its grid form.
    """
    model.eval()
    predictions = model(tokens).argmax(dim=-1)
    if labels.dim() != 3 or predictions.shape != labels.shape:
        raise ValueError(f"labels must be (batch, height, width) matching the predictions; got "
                         f"labels {tuple(labels.shape)}, predictions {tuple(predictions.shape)}.")
    scored = (labels != IGNORE_INDEX).float()
    correct = ((predictions == labels).float() * scored).sum(dim=0)
    counts = scored.sum(dim=0)
    return torch.where(counts > 0, correct / counts.clamp(min=1),
                       torch.full_like(counts, float("nan")))


def similarity_by_raster_step(table: torch.Tensor, height: int,
                              width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Does a 1-D table over the raster index know where rows break? Two (width − 1,) tensors.

    For d = 1 .. width − 1 raster steps: the mean cosine similarity (``position_similarity_maps``)
    of the pairs of patches d steps apart that sit in one row, and of those d steps apart whose
    step crosses a row break ((r, c) and (r + 1, c + d − width)). The raster distance is the same;
    only the 2-D layout differs. table (height·width, d_model), rows in raster order.
    """
    height, width = _require_size("grid", height, width)
    if width < 2 or height < 2:
        raise ValueError(f"the grid needs at least 2 rows and 2 columns to have pairs in one row "
                         f"and across a row break, got {height}×{width}.")
    maps = position_similarity_maps(table, height, width).reshape(height * width, -1)
    row = torch.arange(height * width, device=maps.device) // width
    same, across = [], []
    for step in range(1, width):
        first = torch.arange(height * width - step, device=maps.device)
        pairs, one_row = maps[first, first + step], row[first] == row[first + step]
        same.append(pairs[one_row].mean())
        across.append(pairs[~one_row].mean())
    return torch.stack(same), torch.stack(across)
