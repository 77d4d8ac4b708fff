"""Chapter 08 explorer: pick a patch of a grid, see which patches its position looks like.

Three position schemes for a height × width grid of patches, read in raster order (row by row, as
ViT flattens them):

    "raster sinusoid"   chapter 03's 1-D sinusoid of the raster index r·width + c
    "2-D sinusoid"      MAE's table: a 1-D sinusoid of the column ‖ one of the row
    "axial RoPE"        axial 2-D RoPE (half the pairs turn with the row, half with the column)
                        applied to one random vector x: the cosine of x turned to the chosen
                        patch with x turned to every other patch, i.e. the normalised score of a
                        query and a key with the same content

Each map is (height, width): entry (r', c') compares the chosen patch (r, c) with patch (r', c').
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .._validation import require_choice, require_index, require_int, require_positive_float
from ..learned import position_similarity
from ..positions_2d import apply_rope_2d, patch_grid, sinusoidal_table_2d
from ..sinusoidal import sinusoidal_table

SCHEMES_2D = ("raster sinusoid", "2-D sinusoid", "axial RoPE")


def _require_multiple_of_4(d_model) -> int:
    d_model = require_int("d_model", d_model, minimum=4)
    if d_model % 4:
        raise ValueError(
            f"d_model must be a multiple of 4 (two axes, each with (sin, cos) or rotation pairs), "
            f"got {d_model}."
        )
    return d_model


def positions_2d_view(scheme: str, height: int, width: int, patch: tuple, d_model: int = 32,
                      base: float = 10000.0, seed: int = 0) -> dict:
    """What the widget shows for one scheme, grid and patch.

    ``patch`` is (row, col) with 0 <= row < height, 0 <= col < width. ``d_model`` is the table
    width (the head_dim for "axial RoPE"), a multiple of 4; ``seed`` draws the random vector x of
    "axial RoPE". Returns {"map": (height, width) float32, the chosen patch's cosine with every
    patch; "neighbours": {"above", "below", "left", "right"} -> that neighbour's cosine, or None
    at the edge of the grid; "patch": (row, col)}.
    """
    require_choice("scheme", scheme, SCHEMES_2D)
    height = require_int("height", height, minimum=1)
    width = require_int("width", width, minimum=1)
    d_model = _require_multiple_of_4(d_model)
    base = require_positive_float("base", base)
    seed = require_int("seed", seed, minimum=0)
    if not isinstance(patch, (tuple, list)) or len(patch) != 2:
        raise ValueError(f"patch must be a (row, col) pair, got {patch!r}.")
    row = require_index("patch row", patch[0], height, f"a row of the grid (height={height})")
    col = require_index("patch col", patch[1], width, f"a column of the grid (width={width})")
    index = row * width + col                               # raster order: row by row
    if scheme == "raster sinusoid":
        similarity = position_similarity(sinusoidal_table(height * width, d_model, base))[index]
    elif scheme == "2-D sinusoid":
        table = sinusoidal_table_2d(height, width, d_model, base)
        similarity = position_similarity(table)[index]
    else:
        x = torch.randn(d_model, generator=torch.Generator().manual_seed(seed))
        turned = apply_rope_2d(x.expand(height * width, d_model), patch_grid(height, width), base)
        # rotations keep lengths: every turned copy has x's norm, so this is a cosine
        similarity = turned @ turned[index] / x.norm() ** 2
    grid_map = similarity.reshape(height, width).float()
    neighbours = {}
    for name, (r, c) in {"above": (row - 1, col), "below": (row + 1, col),
                         "left": (row, col - 1), "right": (row, col + 1)}.items():
        inside = 0 <= r < height and 0 <= c < width
        neighbours[name] = grid_map[r, c].item() if inside else None
    return {"map": grid_map, "neighbours": neighbours, "patch": (row, col)}


def draw_positions_2d(schemes, height: int, width: int, patch: tuple, d_model: int = 32,
                      base: float = 10000.0, seed: int = 0):
    """One panel per scheme: the chosen patch's map on the grid, the patch itself marked.

    Each panel has its own colour scale, from its lowest cosine to 1 (the 2-D sinusoid's maps stay
    above 0.6 at d = 32, which a shared −1..1 scale washes out), and its own colour bar.
    """
    if isinstance(schemes, str):
        schemes = [schemes]
    if not schemes:
        raise ValueError(f"schemes must name at least one of {', '.join(SCHEMES_2D)}.")
    views = {s: positions_2d_view(s, height, width, patch, d_model, base, seed) for s in schemes}
    fig, axes = plt.subplots(1, len(views), figsize=(5.2 * len(views), 4.4), squeeze=False,
                             layout="constrained")
    for ax, (scheme, view) in zip(axes[0], views.items()):
        grid_map = view["map"].numpy()
        image = ax.imshow(grid_map, cmap="viridis", vmin=min(grid_map.min(), 0.99), vmax=1,
                          interpolation="nearest")
        row, col = view["patch"]
        ax.plot([col], [row], marker="s", markersize=10, markerfacecolor="none",
                markeredgecolor="white", markeredgewidth=2)
        ax.set(title=scheme, xlabel="column", ylabel="row")
        fig.colorbar(image, ax=ax, shrink=0.8, label="cosine")
    fig.suptitle(f"patch ({row}, {col}) against every patch (each panel its own scale)")
    return fig
