"""Chapter 06 — what a model knows about position without a position scheme (NoPE).

    OwnPositionTask        "output your own position": the label at position p is p
    train_position_model   a TinyTransformer with no positions trained on it (cached, seeded)
    train_position_models  several of them at once (one per core)
    start_position_models  start them in the background (a chapter's top cell)
    hidden_states          the vectors a model's head reads, (batch, seq, d_model)
    linear_probe_accuracy  how well one linear map reads position back from such vectors
    attention_beyond       each query's share of attention on keys more than ``window`` back
    attention_mass_beyond  its mean per layer and head for a model on some tokens

A bidirectional model with no positions is permutation-equivariant (chapter 00): every position of
a sequence looks alike, so it cannot do better than chance. A causal mask breaks the symmetry —
the query at p averages over exactly p + 1 keys — and the model can read that count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import require_int, require_tensor
from .attention import TinyTransformer
from .parallel import TrainingCache
from .schemes import NoPositions
from .training import seed_everything, train


@dataclass(frozen=True)
class OwnPositionTask:
    """Random tokens; the label at position p is p itself (``seq_len`` classes)."""

    vocab_size: int = 16
    seq_len: int = 16

    def __post_init__(self):
        require_int("vocab_size", self.vocab_size, minimum=1)
        require_int("seq_len", self.seq_len, minimum=2)

    @property
    def num_classes(self) -> int:
        return self.seq_len

    def sample(self, batch_size: int, generator: torch.Generator | None = None):
        """tokens (batch, seq_len) int64, labels (batch, seq_len): 0, 1, ..., seq_len − 1."""
        require_int("batch_size", batch_size, minimum=1)
        tokens = torch.randint(self.vocab_size, (batch_size, self.seq_len), generator=generator)
        return tokens, torch.arange(self.seq_len).expand(batch_size, -1).clone()


def _train_position_model(causal: bool, seed: int, steps: int,
                          task: OwnPositionTask) -> nn.Module:
    seed_everything(seed)
    model = TinyTransformer(task.vocab_size, task.num_classes, d_model=32, num_heads=2,
                            num_layers=2, position=NoPositions(), causal=causal, pool=None)
    train(model, task, steps=steps, batch_size=64, lr=3e-3, seed=seed, progress=False)
    return model


_TRAINED = TrainingCache(_train_position_model)


def train_position_model(causal: bool, seed: int = 0, steps: int = 800,
                         task: OwnPositionTask = OwnPositionTask()) -> nn.Module:
    """The copy experiment's model (2 layers, d = 32, 2 heads) with no positions, trained on
    ``task``; cached per arguments, and each call returns its own copy."""
    return train_position_models([(causal, seed)], steps, task)[0]


def train_position_models(jobs, steps: int = 800,
                          task: OwnPositionTask = OwnPositionTask()) -> list[nn.Module]:
    """``[train_position_model(causal, seed, steps, task) for causal, seed in jobs]``, the
    missing ones trained side by side (``course_lib.parallel``: same models, bit for bit)."""
    return [copy.deepcopy(model) for model in _TRAINED.get_many(_keys(jobs, steps, task))]


def start_position_models(jobs, steps: int = 800, task: OwnPositionTask = OwnPositionTask()) -> int:
    """Start training ``jobs`` (as in ``train_position_models``) in the background and return at
    once (see ``course_lib.experiments.start_copy_models``); returns how many were started."""
    return _TRAINED.start(_keys(jobs, steps, task))


def _keys(jobs, steps, task) -> list[tuple]:
    require_int("steps", steps, minimum=1)
    if not isinstance(task, OwnPositionTask):
        raise ValueError(f"task must be an OwnPositionTask, got {type(task).__name__}.")
    keys = []
    for job in jobs:
        if not isinstance(job, (tuple, list)) or len(job) != 2:
            raise ValueError(f"each job must be a pair (causal, seed), got {job!r}.")
        keys.append((bool(job[0]), require_int("seed", job[1], minimum=0), steps, task))
    return keys


@torch.no_grad()
def hidden_states(model: TinyTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """(batch, seq, d_model): the final LayerNorm's output, which the model's head reads."""
    require_tensor("tokens", tokens, min_ndim=2)
    model.eval()
    captured = []
    handle = model.ln_final.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        model(tokens)
    finally:
        handle.remove()
    return captured[0]


def linear_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                          test_y: torch.Tensor, ridge: float = 1e-3) -> float:
    """Fit one linear map (with a bias) from vectors to one-hot labels by ridge regression, then
    score its argmax on held-out vectors.

    train_x (n, d), train_y (n,) int64 in [0, C); test_x (m, d), test_y (m,) -> accuracy in [0, 1].
    """
    for name, x in (("train_x", train_x), ("test_x", test_x)):
        require_tensor(name, x, min_ndim=2, floating=True)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    ones = torch.ones(len(train_x), 1, dtype=torch.float64)
    features = torch.cat((train_x.double(), ones), dim=1)
    targets = nn.functional.one_hot(train_y, num_classes).double()
    # (XᵀX + λI) W = Xᵀ Y: the least-squares map, slightly regularised
    gram = features.T @ features + ridge * torch.eye(features.shape[1], dtype=torch.float64)
    weights = torch.linalg.solve(gram, features.T @ targets)
    test_features = torch.cat((test_x.double(), torch.ones(len(test_x), 1, dtype=torch.float64)), 1)
    return (test_features @ weights).argmax(-1).eq(test_y).double().mean().item()


def attention_beyond(weights: torch.Tensor, window: int) -> torch.Tensor:
    """Each query's share of attention on keys more than ``window`` places back.

    weights (..., seq, seq), query i by key j, rows summing to 1 -> (..., seq): entry i is
    sum over j < i − window of weights[..., i, j] (0 for queries i <= window: no such key). A model
    trained at length n has only met offsets up to n − 1, so ``window`` = n − 1 measures how much
    attention goes to distances it never saw.
    """
    require_tensor("weights", weights, min_ndim=2, floating=True)
    seq = weights.shape[-1]
    if weights.shape[-2] != seq:
        raise ValueError(f"weights must be square in their last two dimensions (query by key), "
                         f"got shape {tuple(weights.shape)}.")
    require_int("window", window, minimum=0)
    i = torch.arange(seq, device=weights.device)
    far = (i[:, None] - i[None, :]) > window            # (seq, seq): key j more than window back
    return (weights * far).sum(-1)


@torch.no_grad()
def attention_mass_beyond(model: TinyTransformer, tokens: torch.Tensor,
                          window: int) -> torch.Tensor:
    """(num_layers, num_heads): the share of attention on keys more than ``window`` back, averaged
    over the batch and over the queries that have such keys (positions window + 1 ... seq − 1).

    tokens (batch, seq) int64 with seq > window + 1.
    """
    require_tensor("tokens", tokens, min_ndim=2)
    require_int("window", window, minimum=0)
    if tokens.shape[-1] <= window + 1:
        raise ValueError(f"tokens must be longer than window + 1 = {window + 1} positions, so that "
                         f"some query has keys beyond the window; got {tokens.shape[-1]}.")
    model.eval()
    model(tokens)
    return torch.stack([attention_beyond(w, window)[..., window + 1:].mean((0, -1))
                        for w in model.attention_weights])
