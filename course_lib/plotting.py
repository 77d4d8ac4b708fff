"""Figures in a lecture style: large fonts and thick lines that read on a projector."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch

LECTURE_STYLE = {
    "figure.figsize": (9, 4.5),
    "figure.dpi": 100,
    "font.size": 15,
    "axes.titlesize": 17,
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "lines.linewidth": 2.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def use_lecture_style() -> None:
    """Apply the course's plotting defaults to every figure that follows."""
    mpl.rcParams.update(LECTURE_STYLE)


def plot_attention(weights, labels, ax=None, title: str = "attention weights"):
    """Heatmap of one (n_q, n_k) attention matrix, rows = queries, cols = keys."""
    weights = torch.as_tensor(weights).detach().cpu().numpy()
    if weights.ndim != 2:
        raise ValueError(
            f"weights must be one (queries, keys) matrix, got shape {tuple(weights.shape)}."
        )
    if len(labels) != weights.shape[0] or weights.shape[0] != weights.shape[1]:
        raise ValueError(
            f"need one label per token: {len(labels)} labels for a {tuple(weights.shape)} matrix."
        )
    ax = ax or plt.gca()
    ax.imshow(weights, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.set_title(title)
    for i in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            value = float(weights[i, j])
            ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                    color="white" if value > 0.55 else "black", fontsize=12)
    return ax


def plot_vector_bars(vectors: dict, ax=None, title: str = ""):
    """Grouped bars: one group per dimension, one bar per named vector."""
    ax = ax or plt.gca()
    names = list(vectors)
    if not names:
        raise ValueError("vectors must name at least one vector.")
    dim = len(vectors[names[0]])
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = torch.as_tensor(vectors[name]).detach().cpu().numpy()
        ax.bar([d + i * width for d in range(dim)], values, width=width, label=name)
    ax.set_xticks([d + 0.4 - width / 2 for d in range(dim)], [f"dim {d}" for d in range(dim)])
    ax.axhline(0, color="gray", linewidth=1)
    ax.set_title(title)
    ax.legend(loc="best")
    return ax
