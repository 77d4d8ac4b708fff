"""Chapter 04 explorer: pick a position, see which other rows of each table look like it.

For a learned table trained on sequences of ``trained_len`` tokens, rows
0..trained_len-1 were shaped by training and the rest are still their random
start: a trained row resembles its neighbours, an untrained row resembles
nothing but itself. A sinusoidal table, for comparison, looks the same
everywhere. Similarity is the cosine between rows (course_lib.learned.position_similarity).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .._validation import require_index, require_int, require_tensor
from ..learned import position_similarity


def learned_tables_view(tables: dict, position: int, trained_len: int) -> dict:
    """What the widget shows for one position.

    ``tables`` maps a name to a (num_positions, d) table; every table needs a row ``position``.
    Returns, per name, {"similarity": (num_positions,) cosine of row ``position`` with every row,
    "nearest": the most similar *other* row, "nearest_similarity": its cosine,
    "neighbour_similarity": the mean cosine with rows position ± 1 (those that exist),
    "reached_in_training": whether ``position`` < ``trained_len``}.
    """
    if not isinstance(tables, dict) or not tables:
        raise ValueError(
            "tables must be a non-empty dict mapping a name to a (positions, features) tensor."
        )
    require_int("position", position, minimum=0)
    require_int("trained_len", trained_len, minimum=1)
    view = {}
    for name, table in tables.items():
        require_tensor(f"tables[{name!r}]", table, floating=True)
        if table.ndim != 2 or table.shape[0] < 2:
            raise ValueError(
                f"tables[{name!r}] must be 2-D with at least 2 rows, got shape "
                f"{tuple(table.shape)}."
            )
        require_index("position", position, table.shape[0], "a row of every table")
        similarity = position_similarity(table.detach())[position]
        others = similarity.clone()
        others[position] = -float("inf")            # the row itself is always the best match
        nearest = int(others.argmax())
        neighbours = [q for q in (position - 1, position + 1) if 0 <= q < len(similarity)]
        view[name] = {
            "similarity": similarity,
            "nearest": nearest,
            "nearest_similarity": similarity[nearest].item(),
            "neighbour_similarity": similarity[neighbours].mean().item(),
            "reached_in_training": position < trained_len,
        }
    return view


def draw_learned_tables(tables: dict, position: int, trained_len: int):
    """One panel per table: the chosen row's cosine with every row, the trained rows shaded."""
    view = learned_tables_view(tables, position, trained_len)
    fig, axes = plt.subplots(
        len(view), 1, figsize=(12, 2.4 * len(view) + 0.6), sharex=True, squeeze=False
    )
    for ax, (name, v) in zip(axes[:, 0], view.items()):
        n = len(v["similarity"])
        ax.axvspan(-0.5, min(trained_len, n) - 0.5, color="0.92", zorder=0)
        ax.axhline(0, color="0.6", linewidth=0.8)
        ax.plot(range(n), v["similarity"], "o-", markersize=3)
        ax.plot([position], [1.0], "o", color="tab:red", markersize=9)
        ax.plot([v["nearest"]], [v["nearest_similarity"]], "s", color="tab:orange", markersize=8)
        ax.set_ylim(-1.05, 1.1)
        ax.set_ylabel("cosine")
        reached = "reached in training" if v["reached_in_training"] else "never reached in training"
        ax.set_title(
            f"{name}: row {position} ({reached}); cosine with its neighbours "
            f"{v['neighbour_similarity']:.2f}; "
            f"most similar other row {v['nearest']} ({v['nearest_similarity']:.2f})",
            fontsize=13,
        )
    axes[-1, 0].set_xlabel(
        f"position (grey: rows a sequence of {trained_len} tokens reaches in training)"
    )
    fig.tight_layout()
    return fig
