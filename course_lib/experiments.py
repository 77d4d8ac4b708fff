"""The course's standard experiment, defined once: copy the token 3 back, trained at length 16.

Chapters 02-05 (and the later ones) train the same small model on the same task and differ only in
the position scheme, so the recipe lives here and every chapter calls it:

    model = train_copy_model("rope", seed=0)      # trains once, then the cached result is reused
    result = measure_extrapolation({"RoPE": model}, COPY_EXPERIMENT.task(),
                                   test_lengths=[8, 16, 32, 64])

    seed_everything(seed)                                         # model initialisation
    model = TinyTransformer(vocab, vocab, d_model=32, num_heads=2, num_layers=2,
                            position=scheme, pool=None)
    train(model, CopyBackTask(offset=3, vocab_size=16, seq_len=16), steps=800, batch_size=64,
          lr=3e-3, seed=seed, weight_decay=0.01)                  # the batches

A section that needs several models asks for them at once, and they train side by side, one per
CPU core, bit for bit the models one-by-one training gives (``course_lib.parallel``):

    models = train_copy_models([("rope", seed) for seed in (0, 1, 2)])

Training is cached per (scheme, seed, configuration) for the life of the kernel, and never moves the
notebook's global random generators: a lecture section that needs the trained model calls
``train_copy_model`` again instead of reading a variable from an earlier section, and costs nothing
when the earlier section already trained it. Every call returns its own copy, so a section that
changes its model cannot change another section's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from ._validation import require_choice, require_int
from .alibi import ALiBiPositions
from .attention import TinyTransformer
from .integer_position import IntegerPosition
from .learned import LearnedPositions, RandomStartPositions
from .normalised_position import NormalisedPosition
from .parallel import TrainingCache
from .relative_bias import ShawRelativeKeys, T5RelativeBias
from .rope import RotaryPositions
from .schemes import NoPositions, PositionScheme
from .sinusoidal import SinusoidalPositions
from .tasks import CopyBackTask, CopyFirstTask, MixedLengths
from .training import seed_everything, train

#: the tasks a CopyExperiment can train: the standard one, and its absolute counterpart (ch. 06)
COPY_TASKS = ("copy_back", "copy_first")


@dataclass(frozen=True)
class CopyExperiment:
    """Task, model size and optimiser of the standard experiment (frozen: it is a cache key)."""

    offset: int = 3            # copy the token this many places back
    vocab_size: int = 16
    train_len: int = 16        # every training sequence has this length (unless train_lens)
    train_lens: tuple[int, ...] = ()  # if given, each batch draws its length from these instead
    max_len: int = 64          # longest test length; sizes the learned table and p/max_len
    d_model: int = 32
    num_heads: int = 2
    num_layers: int = 2
    steps: int = 800
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    causal: bool = False       # True: each token attends only to itself and earlier tokens
    # "copy_back" (the standard task) or "copy_first" (each position outputs token 0; no offset)
    task_name: str = "copy_back"

    def __post_init__(self):
        require_choice("task_name", self.task_name, COPY_TASKS)

    def task(self) -> CopyBackTask | CopyFirstTask:
        """The task at the training length (``measure_extrapolation`` sets other lengths)."""
        if self.task_name == "copy_first":
            return CopyFirstTask(vocab_size=self.vocab_size, seq_len=self.train_len)
        return CopyBackTask(offset=self.offset, vocab_size=self.vocab_size, seq_len=self.train_len)

    def training_task(self) -> CopyBackTask | MixedLengths:
        """What the model is trained on: ``task()``, or ``task()`` at the ``train_lens`` mixed."""
        return MixedLengths(self.task(), self.train_lens) if self.train_lens else self.task()

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads


COPY_EXPERIMENT = CopyExperiment()

# scheme name -> how to build it for a configuration. One name per scheme across the course.
COPY_SCHEMES = {
    "none": lambda c: NoPositions(),
    "integer": lambda c: IntegerPosition("concat"),   # chapter 01: the raw index as a feature
    "by_length": lambda c: NormalisedPosition("by_length"),
    "by_max_len": lambda c: NormalisedPosition("by_max_len", max_len=c.max_len),
    "sinusoidal": lambda c: SinusoidalPositions(c.d_model),
    "learned": lambda c: LearnedPositions(c.max_len, c.d_model),
    "learned_random_start": lambda c: RandomStartPositions(c.max_len, c.d_model),
    "rope": lambda c: RotaryPositions(c.head_dim),
    # chapter 06: the offset enters the scores, nothing enters the token vectors
    "shaw_clip2": lambda c: ShawRelativeKeys(c.head_dim, clip=2),
    "shaw_clip3": lambda c: ShawRelativeKeys(c.head_dim, clip=3),
    "t5": lambda c: T5RelativeBias(c.num_heads, bidirectional=not c.causal),
    # HF's T5 initialisation: N(0, d_model^-0.5) instead of nn.Embedding's N(0, 1)
    "t5_hf_init": lambda c: T5RelativeBias(c.num_heads, bidirectional=not c.causal,
                                           init_std=c.d_model**-0.5),
    "alibi": lambda c: ALiBiPositions(c.num_heads),
}


def copy_scheme(name: str, config: CopyExperiment = COPY_EXPERIMENT) -> PositionScheme:
    """A fresh, untrained position scheme of the standard experiment, by name (``COPY_SCHEMES``)."""
    return COPY_SCHEMES[require_choice("scheme", name, COPY_SCHEMES)](config)


def _train_once(name: str, seed: int,
                config: CopyExperiment) -> tuple[nn.Module, tuple[float, ...]]:
    seed_everything(seed)
    model = TinyTransformer(config.vocab_size, config.vocab_size, d_model=config.d_model,
                            num_heads=config.num_heads, num_layers=config.num_layers,
                            position=copy_scheme(name, config), causal=config.causal, pool=None)
    losses = train(model, config.training_task(), steps=config.steps, batch_size=config.batch_size,
                   lr=config.lr, seed=seed, progress=False, weight_decay=config.weight_decay)
    return model, tuple(losses)


# (scheme, seed, config) -> (model, losses); missing entries are trained side by side
_TRAINED = TrainingCache(_train_once)


def _check_job(scheme, seed, config) -> tuple[str, int, CopyExperiment]:
    if not isinstance(config, CopyExperiment):
        raise ValueError(f"config must be a CopyExperiment, got {type(config).__name__}.")
    seed = require_int("seed", seed, minimum=0)       # a plain int: it is part of the cache key
    require_choice("scheme", scheme, COPY_SCHEMES)   # a readable error before any training
    return scheme, seed, config


def train_copy_model(scheme: str, seed: int = 0, config: CopyExperiment = COPY_EXPERIMENT,
                     return_losses: bool = False):
    """The standard experiment's model for ``scheme`` (in ``COPY_SCHEMES``), trained with ``seed``.

    Returns the trained ``TinyTransformer`` (tokens (batch, seq) -> logits (batch, seq,
    vocab_size)), in eval mode; with ``return_losses=True``, ``(model, losses)`` with the training
    loss per step. Each call returns a copy, so changing it never changes what another call gets.
    """
    model, losses = _TRAINED.get(*_check_job(scheme, seed, config))
    model = copy.deepcopy(model)
    return (model, list(losses)) if return_losses else model


def train_copy_models(jobs, config: CopyExperiment = COPY_EXPERIMENT) -> list[nn.Module]:
    """``[train_copy_model(*job) for job in jobs]``, the missing ones trained side by side.

    Each job is ``(scheme, seed)`` (trained with ``config``) or ``(scheme, seed, config)``. The
    models are the ones ``train_copy_model`` gives, bit for bit: on a machine with several cores
    the trainings run in parallel worker processes (``course_lib.parallel``), on one core one after
    another. A typical section:

        runs = {f"clip {clip}, seed {seed}": (f"shaw_clip{clip}", seed)
                for clip in (2, 3) for seed in (0, 1, 2)}
        models = dict(zip(runs, train_copy_models(runs.values())))
    """
    return [copy.deepcopy(model) for model, _ in _TRAINED.get_many(_check_jobs(jobs, config))]


def start_copy_models(jobs, config: CopyExperiment = COPY_EXPERIMENT) -> int:
    """Start training ``jobs`` (as in ``train_copy_models``) in the background and return at once.

    A chapter that trains many models calls it once at its top with every job it will need, in
    the order its sections need them: the models train on the spare cores while the student reads
    (and while the cells before each experiment run), and each section's ``train_copy_models``
    waits only for what is not done yet. Same models, bit for bit. Returns how many trainings were
    started (0 on a single core or outside Linux, where each model trains when first asked for).
    """
    return _TRAINED.start(_check_jobs(jobs, config))


def _check_jobs(jobs, config: CopyExperiment) -> list[tuple[str, int, CopyExperiment]]:
    checked = []
    for job in jobs:
        job = tuple(job) if isinstance(job, (tuple, list)) else (job,)
        if len(job) not in (2, 3):
            raise ValueError(f"each job must be (scheme, seed) or (scheme, seed, config), "
                             f"got {job!r}.")
        checked.append(_check_job(*job, *(() if len(job) == 3 else (config,))))
    return checked
