"""Chapter 02 explorer: slide the sequence length, watch where one fixed index lands.

A model was trained on sequences of ``train_len`` tokens. For a test sequence
of another length, every index gets a normalised value; the question a
student should ask is "which *training* position had that value?" — because
that is the position the model will think it is looking at.

    by_length   value p / (n - 1)   reads as training position p (train_len - 1) / (n - 1)
    by_max_len  value p / max_len   reads as training position p, but only p < train_len was seen
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .._validation import require_index, require_int
from ..normalised_position import MODES, normalised_positions


def normalised_positions_view(
    seq_len: int, index: int = 3, max_len: int = 64, train_len: int = 16
) -> dict:
    """What the widget shows for one length.

    Returns a dict keyed by mode ("by_length", "by_max_len"), each holding
    {"values": (seq_len,) normalised positions, "training_values": (train_len,)
    the values seen in training, "index_value": the value of ``index``,
    "reads_as": the training position with that value (a float),
    "seen_in_training": whether that training position exists (0 <= reads_as <= train_len - 1),
    "gap": the distance between neighbouring values}.
    """
    require_int("seq_len", seq_len, minimum=2)
    require_int("train_len", train_len, minimum=2)
    require_int("max_len", max_len, minimum=1)
    require_index("index", index, seq_len, "a position of the sequence")
    view = {}
    for mode in MODES:
        values = normalised_positions(seq_len, mode, max_len)
        training_values = normalised_positions(train_len, mode, max_len)
        index_value = values[index].item()
        # Invert the training length's map: which training position had this value?
        reads_as = index_value * (train_len - 1) if mode == "by_length" else index_value * max_len
        view[mode] = {
            "values": values,
            "training_values": training_values,
            "index_value": index_value,
            "reads_as": reads_as,
            "seen_in_training": reads_as <= train_len - 1 + 1e-6,
            "gap": (values[1] - values[0]).item(),
        }
    return view


def draw_normalised_positions(seq_len: int, index: int = 3, max_len: int = 64, train_len: int = 16):
    """Two number lines (one per mode): this length's values, the training ones, the fixed index."""
    view = normalised_positions_view(seq_len, index, max_len, train_len)
    fig, axes = plt.subplots(2, 1, figsize=(12, 4.6))
    titles = {"by_length": "p / (n − 1)", "by_max_len": f"p / max_len   (max_len = {max_len})"}
    right_edge = max(1.0, (seq_len - 1) / max_len) * 1.04
    for ax, mode in zip(axes, MODES):
        v = view[mode]
        trained_hi = v["training_values"].max().item()
        ax.axvspan(0, trained_hi, color="0.92", zorder=0)
        ax.scatter(v["training_values"], [1] * train_len, marker="|", s=300, color="0.45",
                   label=f"trained at n = {train_len}")
        ax.scatter(
            v["values"],
            [0] * seq_len,
            s=18,
            color="tab:blue",
            label=f"this sequence, n = {seq_len}",
        )
        ax.scatter([v["index_value"]], [0], s=140, color="tab:red", zorder=3)
        where = (f"reads as training position {v['reads_as']:.2f}" if v["seen_in_training"]
                 else f"past every trained value (trained up to {trained_hi:.3f})")
        # Anchor the label on the side with room, so it never runs off the axes.
        ax.annotate(f"index {index} → {v['index_value']:.3f}: {where}", (v["index_value"], 0),
                    xytext=(0, 14), textcoords="offset points", color="tab:red", fontsize=12,
                    ha="right" if v["index_value"] > right_edge / 2 else "left")
        ax.set_xlim(-0.02, right_edge)
        ax.set_ylim(-0.6, 1.6)
        ax.set_yticks([0, 1], [f"n = {seq_len}", f"n = {train_len}"])
        ax.set_title(f"{titles[mode]}: neighbour gap {v['gap']:.4f}", fontsize=14)
    axes[-1].set_xlabel("normalised position value (grey band: values seen in training)")
    fig.tight_layout()
    return fig
