"""Chapter 03 explorer: the clocks of one position, the whole table, and who looks similar to whom.

Pair i of the encoding is a clock hand at angle p·ω_i (ω_i = base^(−2i/d)).
The widget shows a few of those hands for the chosen position, the table as
a heatmap with that position marked, and the similarity PE(p)·PE(j) / (d/2)
of the chosen position to every other one — which base and d_model reshape.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from .._validation import require_index, require_int
from ..sinusoidal import sinusoid_frequencies, sinusoidal_table


def sinusoids_view(
    position: int,
    d_model: int = 64,
    base: float = 10000.0,
    num_positions: int = 128,
    num_clocks: int = 6,
) -> dict:
    """What the widget shows.

    Returns {"table": (num_positions, d_model), "angles": (num_clocks,) angles in [0, 2π) of evenly
    spaced pairs, "clock_pairs": (num_clocks,) which pairs i those are, "wavelengths": (d_model/2,)
    2π/ω_i in positions, "similarity": (num_positions,) PE(position)·PE(j) / (d_model/2)}.
    """
    require_int("num_positions", num_positions, minimum=2)
    require_index("position", position, num_positions, "one of the table's rows")
    frequencies = sinusoid_frequencies(d_model, base)            # validates d_model and base
    require_int("num_clocks", num_clocks, minimum=1)
    table = sinusoidal_table(num_positions, d_model, base)
    pairs = torch.linspace(0, d_model // 2 - 1, min(num_clocks, d_model // 2)).round().long()
    return {
        "table": table,
        "angles": torch.remainder(position * frequencies[pairs], 2 * math.pi),
        "clock_pairs": pairs,
        "wavelengths": 2 * math.pi / frequencies,
        "similarity": (table.double() @ table[position].double()) / (d_model / 2),
    }


def draw_sinusoids(
    position: int, d_model: int = 64, base: float = 10000.0, num_positions: int = 128
):
    """Clock hands of ``position``, the table's heatmap, and its similarity to every row."""
    view = sinusoids_view(position, d_model, base, num_positions)
    fig = plt.figure(figsize=(14, 7.5))
    grid = fig.add_gridspec(2, len(view["angles"]), height_ratios=[1, 1.6])
    for c, (pair, angle) in enumerate(zip(view["clock_pairs"].tolist(), view["angles"].tolist())):
        ax = fig.add_subplot(grid[0, c])
        ax.add_patch(plt.Circle((0, 0), 1, fill=False, color="0.6"))
        # (cos, sin) of the angle: the pair's two features drawn as a point on the unit circle.
        ax.plot([0, math.cos(angle)], [0, math.sin(angle)], color="tab:red", linewidth=3)
        ax.set(xlim=(-1.15, 1.15), ylim=(-1.15, 1.15), aspect="equal")
        ax.axis("off")
        ax.set_title(f"pair {pair}\nλ = {view['wavelengths'][pair]:.3g}", fontsize=11)
    heat = fig.add_subplot(grid[1, : len(view["angles"]) // 2])
    heat.imshow(view["table"].T.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1,
                interpolation="nearest")
    heat.axvline(position, color="k", linewidth=2)
    heat.set(xlabel="position p", ylabel="feature")
    heat.set_title(f"PE table (d = {d_model}, base = {base:g})", fontsize=13)
    sim = fig.add_subplot(grid[1, len(view["angles"]) // 2:])
    sim.plot(view["similarity"].numpy())
    sim.axvline(position, color="k", linestyle=":")
    sim.set_ylim(-1.05, 1.05)
    sim.set_xlabel("position j")
    sim.set_title(f"PE({position})·PE(j) / (d/2)", fontsize=13)
    fig.suptitle(f"position {position}", fontsize=16)
    fig.tight_layout()
    return fig
