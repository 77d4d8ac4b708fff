"""Chapter 08's explorer (course_lib.explorers.positions_2d): each map against a formula written
out with numpy here, not against course_lib's tables."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.explorers.positions_2d import SCHEMES_2D, draw_positions_2d, positions_2d_view


def clocks(n: int, base: float = 10000.0) -> np.ndarray:
    """The n frequencies base^(−i/n), i = 0..n−1: a sinusoid of 2n features (the paper's)."""
    return base ** (-np.arange(n) / n)


def offsets(height, width, row, col):
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return rows - row, cols - col                                # (H, W) each


def test_raster_sinusoid_map_is_the_mean_cosine_of_the_raster_distance():
    # Rows of a sinusoidal table have norm √(d/2); their dot product is Σ cos(k·ω_i), k the
    # distance in raster order, so the cosine is that sum over d/2.
    height, width, d, row, col = 5, 7, 32, 2, 3
    dr, dc = offsets(height, width, row, col)
    k = dr * width + dc
    expected = np.cos(k[..., None] * clocks(d // 2)).mean(-1)
    view = positions_2d_view("raster sinusoid", height, width, (row, col), d_model=d)
    assert view["map"].shape == (height, width) and view["map"].dtype == torch.float32
    np.testing.assert_allclose(view["map"].numpy(), expected, atol=1e-5)


def test_2d_sinusoid_map_is_a_column_term_plus_a_row_term():
    height, width, d, row, col = 4, 6, 16, 1, 4
    dr, dc = offsets(height, width, row, col)
    w = clocks(d // 4)                                          # each half: d/4 pairs
    expected = (np.cos(dc[..., None] * w).sum(-1) + np.cos(dr[..., None] * w).sum(-1)) / (d // 2)
    view = positions_2d_view("2-D sinusoid", height, width, (row, col), d_model=d)
    np.testing.assert_allclose(view["map"].numpy(), expected, atol=1e-5)
    n = view["neighbours"]
    assert n["above"] == pytest.approx(n["left"], abs=1e-6)  # the two axes alike


def test_axial_rope_map_from_complex_pairs():
    # Pair j = features (j, j + D/2) as a complex number z_j; the first D/4 pairs turn by row·θ_j,
    # the rest by col·θ_j. cos(R(p)x, R(p')x) = Σ |z_j|² cos(angle_j(p) − angle_j(p')) / |x|².
    height, width, d, row, col, seed = 3, 5, 16, 2, 1, 7
    x = torch.randn(d, generator=torch.Generator().manual_seed(seed)).double().numpy()
    weight = x[: d // 2] ** 2 + x[d // 2:] ** 2                  # |z_j|²
    theta = clocks(d // 4)
    dr, dc = offsets(height, width, row, col)
    turn = np.concatenate([dr[..., None] * theta, dc[..., None] * theta], axis=-1)
    expected = (np.cos(turn) * weight).sum(-1) / (x ** 2).sum()
    view = positions_2d_view("axial RoPE", height, width, (row, col), d_model=d, seed=seed)
    np.testing.assert_allclose(view["map"].numpy(), expected, atol=1e-5)
    assert view["map"][row, col].item() == pytest.approx(1.0, abs=1e-6)


def test_neighbours_at_the_edge_of_the_grid_are_none():
    view = positions_2d_view("2-D sinusoid", 3, 4, (0, 3))
    assert view["neighbours"]["above"] is None and view["neighbours"]["right"] is None
    assert view["neighbours"]["below"] == pytest.approx(view["map"][1, 3].item())
    assert view["patch"] == (0, 3)
    single = positions_2d_view("raster sinusoid", 1, 1, (0, 0))
    assert set(single["neighbours"].values()) == {None}


def test_draw_gives_one_panel_per_scheme_each_with_its_colour_bar():
    fig = draw_positions_2d(list(SCHEMES_2D), 4, 6, (1, 2))
    assert len(fig.axes) == 2 * len(SCHEMES_2D)
    panels = [ax for ax in fig.axes if ax.get_title() in SCHEMES_2D]
    assert [ax.get_title() for ax in panels] == list(SCHEMES_2D)
    lowest = {ax.get_title(): ax.images[0].get_clim()[0] for ax in panels}
    view = positions_2d_view("2-D sinusoid", 4, 6, (1, 2))
    assert lowest["2-D sinusoid"] == pytest.approx(view["map"].min().item())   # its own scale
    plt.close(fig)
    fig = draw_positions_2d("axial RoPE", 4, 6, (1, 2))
    assert len(fig.axes) == 2
    plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: positions_2d_view("2d", 4, 4, (0, 0)), "scheme must be one of"),
        (lambda: positions_2d_view("axial RoPE", 0, 4, (0, 0)), "height must be at least 1"),
        (lambda: positions_2d_view("axial RoPE", 4, 4, (4, 0)),
         "patch row must be a row of the grid \\(height=4\\), 0..3"),
        (lambda: positions_2d_view("axial RoPE", 4, 4, (0, -1)), "patch col must be at least 0"),
        (lambda: positions_2d_view("axial RoPE", 4, 4, 3), "patch must be a \\(row, col\\) pair"),
        (lambda: positions_2d_view("2-D sinusoid", 4, 4, (0, 0), d_model=30),
         "d_model must be a multiple of 4"),
        (lambda: positions_2d_view("2-D sinusoid", 4, 4, (0, 0), base=0.0),
         "base must be a positive number"),
        (lambda: draw_positions_2d([], 4, 4, (0, 0)), "at least one of"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
