"""A seeded training and evaluation loop for the course's small experiments.

Same seed, same machine, same numbers: every experiment in the notebooks is
reproducible, so the accuracies quoted in the prose are the ones printed.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ._validation import require_int, require_positive_float
from .parallel import one_thread
from .tasks import IGNORE_INDEX


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation draws from torch)."""
    require_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # (batch, C) with (batch,) or (batch, seq, C) with (batch, seq); IGNORE_INDEX labels don't
    # count.
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


def train(
    model: nn.Module,
    task,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    weight_decay: float = 0.01,
) -> list[float]:
    """Train ``model`` on fresh batches from ``task.sample`` with AdamW; returns the loss per step.

    ``task`` is any object with ``sample(batch_size, generator) -> (tokens, labels)``.
    ``weight_decay`` is AdamW's (decoupled) decay, PyTorch's default 0.01: every
    step multiplies every weight by (1 - lr * weight_decay), gradient or not.
    Training runs on one CPU thread (``course_lib.parallel.one_thread``), so a seed gives the
    same weights on every machine, whatever its core count.
    """
    require_int("steps", steps, minimum=1)
    require_int("batch_size", batch_size, minimum=1)
    require_positive_float("lr", lr)
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or weight_decay < 0
    ):
        raise ValueError(
            f"weight_decay must be a number >= 0 (0 turns decay off), got {weight_decay!r}."
        )
    if not callable(getattr(task, "sample", None)):
        raise ValueError(
            f"task must have a sample(batch_size, generator) method, got {type(task).__name__}."
        )
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    steps_shown = tqdm(range(steps), desc=f"training {type(model).__name__}",
                       disable=not progress, leave=False)
    with one_thread():
        for _ in steps_shown:
            tokens, labels = task.sample(batch_size, generator)
            loss = _loss(model(tokens), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of labels the model's argmax gets right (per sequence or per position).

    Labels equal to ``IGNORE_INDEX`` (positions with no answer) are left out.
    """
    model.eval()
    predictions = model(tokens).argmax(dim=-1)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"the model predicts shape {tuple(predictions.shape)} but labels have shape "
            f"{tuple(labels.shape)}."
        )
    scored = labels != IGNORE_INDEX
    if not scored.any():
        raise ValueError("every label is IGNORE_INDEX: there is nothing to score.")
    return (predictions[scored] == labels[scored]).float().mean().item()


@torch.no_grad()
def accuracy_by_position(
    model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Accuracy at each position, averaged over the batch: (seq,) floats.

    For per-token tasks (``labels`` of shape (batch, seq)). Positions where every
    label is ``IGNORE_INDEX`` have no score and come back as nan, so a plot
    leaves them out instead of drawing a misleading 0.
    """
    model.eval()
    predictions = model(tokens).argmax(dim=-1)
    if labels.dim() != 2 or predictions.shape != labels.shape:
        raise ValueError(
            "accuracy_by_position needs per-token labels of shape (batch, seq) matching the "
            "model's "
            f"predictions; got labels {tuple(labels.shape)} and predictions "
            f"{tuple(predictions.shape)}."
        )
    scored = (labels != IGNORE_INDEX).float()
    correct = ((predictions == labels).float() * scored).sum(dim=0)
    counts = scored.sum(dim=0)
    return torch.where(
        counts > 0, correct / counts.clamp(min=1), torch.full_like(counts, float("nan"))
    )
