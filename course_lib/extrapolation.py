"""Trained at one length, tested at others: what chapters 04-05 (and 07) measure for every scheme.

    measure_extrapolation(models, task, test_lengths)  accuracy per length, and per position at
                                                       the longest
    extrapolation_table(result)                        the printed table
    plot_per_position(result)                          one accuracy-by-position curve per model

Over seeds (models named "label|seed", as chapters 06-07 name them):

    seed_spread(result)                label -> n -> [accuracy of each seed]
    spread_table(spread, chance)       mean (lowest-highest seed) per label and length
    plot_spread(spread, trained_len)   mean line and seed range band per label, log-2 length axis

Test sets are drawn once from a fixed seed, so every model sees the same sequences.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ._validation import require_int
from .training import accuracy, accuracy_by_position


def measure_extrapolation(
    models: dict, task, test_lengths, num_sequences: int = 512, seed: int = 123
) -> dict:
    """Score each model in ``models`` (name -> trained model) on ``task`` at each test length.

    ``task`` is a per-token task with ``offset``, ``seq_len`` (the training length), ``num_classes``
    and ``sample(batch, generator, seq_len=n)`` (e.g. CopyBackTask). Returns {"lengths",
    "trained_len", "offset", "chance", "scores": name -> {n: accuracy}, "per_position": name ->
    (longest,) accuracies, "seen": name -> mean over positions offset..trained_len-1, "unseen": name
    -> mean over positions >= trained_len} (seen and unseen measured on the longest test length).
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict mapping a name to a trained model.")
    lengths = sorted(require_int("test length", n, minimum=task.offset + 1) for n in test_lengths)
    if not lengths:
        raise ValueError("test_lengths must name at least one length.")
    longest, trained_len = lengths[-1], task.seq_len
    test_sets = {
        n: task.sample(num_sequences, torch.Generator().manual_seed(seed), seq_len=n)
        for n in lengths
    }
    result = {
        "lengths": lengths,
        "trained_len": trained_len,
        "offset": task.offset,
        "chance": 1 / task.num_classes,
        "scores": {},
        "per_position": {},
        "seen": {},
        "unseen": {},
    }
    for name, model in models.items():
        result["scores"][name] = {n: accuracy(model, *test_sets[n]) for n in lengths}
        per_position = accuracy_by_position(model, *test_sets[longest])
        result["per_position"][name] = per_position
        result["seen"][name] = per_position[task.offset:trained_len].mean().item()
        result["unseen"][name] = (
            per_position[trained_len:].mean().item() if longest > trained_len else float("nan")
        )
    return result


def extrapolation_table(result: dict) -> str:
    """The measurement as fixed-width text: one row per model, then chance."""
    lengths, trained_len, offset = result["lengths"], result["trained_len"], result["offset"]
    longest = lengths[-1]
    seen = f"positions {offset}-{trained_len - 1}"
    unseen = f"positions {trained_len}-{longest - 1} (at n={longest})"
    lines = ["test length n:  " + "".join(f"{n:>8}" for n in lengths) + f"   {seen}   {unseen}"]
    for name, scores in result["scores"].items():
        lines.append(f"{name:<16}" + "".join(f"{scores[n]:>8.3f}" for n in lengths)
                     + f"{result['seen'][name]:>17.3f}{result['unseen'][name]:>18.3f}")
    lines.append(f"{'chance':<16}" + "".join(f"{result['chance']:>8.3f}" for _ in lengths))
    return "\n".join(lines)


def plot_per_position(result: dict, ax=None):
    """Accuracy by position at the longest test length, a curve per model (dotted: trained end)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    longest, trained_len = result["lengths"][-1], result["trained_len"]
    for name, per_position in result["per_position"].items():
        ax.plot(range(longest), per_position, "o-", markersize=3, label=name)
    ax.axvline(trained_len - 0.5, color="gray", linestyle=":")
    ax.axhline(result["chance"], color="gray", linestyle="--", linewidth=1)
    ax.set(xlabel="position", ylabel="accuracy")
    ax.legend()
    ax.set_title(
        f"trained at n = {trained_len}, tested at n = {longest} (dotted: last trained position; "
        "dashed: chance)"
    )
    return ax


# --- over seeds: models named "label|seed" --------------------------------------------------


def _label(name: str, separator: str) -> str:
    if not isinstance(name, str) or separator not in name:
        raise ValueError(f"model names must read 'label{separator}seed' (e.g. 'RoPE{separator}0'), "
                         f"got {name!r}.")
    return name.rsplit(separator, 1)[0]


def seed_spread(result: dict, separator: str = "|") -> dict:
    """Group a ``measure_extrapolation`` result by label: {label: {n: [accuracy per seed]}}.

    Models must be named ``"label|seed"``; labels keep the order they first appear in, and each
    list holds the seeds in the order the models were measured.
    """
    if not isinstance(result, dict) or "scores" not in result or "lengths" not in result:
        raise ValueError("result must be what measure_extrapolation returns.")
    spread = {}
    for name, scores in result["scores"].items():
        by_length = spread.setdefault(_label(name, separator), {n: [] for n in result["lengths"]})
        for n in result["lengths"]:
            by_length[n].append(scores[n])
    return spread


def per_position_spread(result: dict, separator: str = "|") -> dict:
    """{label: (seeds, longest) accuracies by position at the longest test length}."""
    if not isinstance(result, dict) or "per_position" not in result:
        raise ValueError("result must be what measure_extrapolation returns.")
    rows = {}
    for name, per_position in result["per_position"].items():
        rows.setdefault(_label(name, separator), []).append(torch.as_tensor(per_position))
    return {label: torch.stack(curves) for label, curves in rows.items()}


def _check_spread(spread) -> None:
    if (not isinstance(spread, dict) or not spread
            or not all(isinstance(v, dict) and v and all(len(s) for s in v.values())
                       for v in spread.values())):
        raise ValueError("spread must map a label to {length: [scores over seeds]} "
                         "(what seed_spread returns), with at least one score per length.")


def spread_table(spread: dict, chance: float | None = None) -> str:
    """Fixed-width text: per label and length, the mean over seeds and (lowest-highest seed)."""
    _check_spread(spread)
    lengths = list(next(iter(spread.values())))
    width = max(16, *(len(label) + 2 for label in spread))
    lines = [f"{'n =':<{width}}" + "".join(f"{n:>17}" for n in lengths)]
    for label, by_length in spread.items():
        lines.append(f"{label:<{width}}" + "".join(
            f"{sum(s) / len(s):>7.2f} ({min(s):.2f}-{max(s):.2f})" for s in by_length.values()))
    if chance is not None:
        lines.append(f"{'chance':<{width}}" + "".join(f"{chance:>7.2f}{'':>10}" for _ in lengths))
    return "\n".join(lines)


def plot_spread(spread: dict, trained_len: int, chance: float | None = None, ax=None):
    """Accuracy against test length: per label the mean over seeds (line) and the lowest to
    highest seed (band); base-2 length axis, the training length dotted, chance dashed."""
    _check_spread(spread)
    require_int("trained_len", trained_len, minimum=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.5))
    for label, by_length in spread.items():
        lengths = list(by_length)
        scores = [by_length[n] for n in lengths]
        line, = ax.plot(lengths, [sum(s) / len(s) for s in scores], "o-", markersize=4,
                        label=label)
        ax.fill_between(lengths, [min(s) for s in scores], [max(s) for s in scores],
                        color=line.get_color(), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.axvline(trained_len, color="gray", linestyle=":")
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1)
    ax.set(xlabel="test length n", ylabel="accuracy", ylim=(0, 1.03))
    return ax
