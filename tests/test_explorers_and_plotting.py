"""Widget logic (plain functions, no browser) and the lecture plotting helpers."""

import math

import matplotlib.pyplot as plt
import pytest
import torch

from course_lib import plot_attention, plot_vector_bars, summary_table, use_lecture_style
from course_lib.explorers import (
    draw_integer_dimension,
    draw_learned_tables,
    draw_normalised_positions,
    draw_order_blindness,
    draw_rope,
    draw_sinusoids,
    integer_dimension_view,
    learned_tables_view,
    normalised_positions_view,
    order_blindness_view,
    rope_view,
    sinusoids_view,
)


def test_view_without_positions_gives_a_word_the_same_vector_in_any_order():
    a = order_blindness_view("lion kills deer")
    b = order_blindness_view("deer kills lion")
    assert a["weights"].shape == (3, 3) and a["outputs"].shape == (3, 4)
    for word in ["lion", "kills", "deer"]:
        assert torch.allclose(a["vectors"][word], b["vectors"][word], atol=1e-6)
    # The attention matrix is the same matrix with rows and columns reordered.
    assert torch.allclose(b["weights"], a["weights"][[2, 1, 0]][:, [2, 1, 0]], atol=1e-6)


def test_view_with_positions_depends_on_where_a_word_stands():
    a = order_blindness_view("lion kills deer", with_positions=True, seed=3)
    b = order_blindness_view("deer kills lion", with_positions=True, seed=3)
    assert (a["vectors"]["lion"] - b["vectors"]["lion"]).abs().max() > 0.1


def test_draw_returns_one_panel_per_sentence_plus_the_bars():
    fig = draw_order_blindness(["lion kills deer", "deer kills lion"])
    assert len(fig.axes) == 3
    plt.close(fig)


def test_integer_dimension_view_saturates_as_the_length_grows():
    short, long = integer_dimension_view(8), integer_dimension_view(256)
    for view, n in ((short, 8), (long, 256)):
        assert view["feature_norm"].shape == view["last_row"].shape == (n,)
        assert abs(view["last_row"].sum().item() - 1) < 1e-5
        assert view["feature_norm"][-1] >= n - 1
    assert long["max_logit"] > 100 * short["max_logit"]
    assert long["entropy"] < 0.01 < short["entropy"]
    fig = draw_integer_dimension(16)
    assert len(fig.axes) == 2
    plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: integer_dimension_view(1), "seq_len must be at least 2"),
        (lambda: integer_dimension_view(8, d_model=2), "d_model must be at least 3"),
        (lambda: order_blindness_view(""), "non-empty string"),
        (lambda: learned_tables_view({}, 0, 4), "non-empty dict"),
        (lambda: rope_view(3, -1), "n must be at least 0"),
        (lambda: rope_view(3, 1, pair=8, head_dim=16),
         "pair must be one of the head_dim/2 pairs \\(head_dim=16\\), 0..7"),
        (lambda: rope_view(3, 1, head_dim=5), "head_dim must be even"),
        (lambda: rope_view(3, 1, q=(1.0, 2.0, 3.0)), "two numbers"),
        (
            lambda: learned_tables_view({"t": torch.zeros(8, 4)}, 8, 4),
            "position must be a row of every table",
        ),
        (lambda: learned_tables_view({"t": torch.zeros(8)}, 0, 4), "must be 2-D"),
        (
            lambda: learned_tables_view({"t": torch.zeros(8, 4)}, 0, 0),
            "trained_len must be at least 1",
        ),
        (lambda: order_blindness_view(42), "non-empty string"),
        (
            lambda: draw_order_blindness(["deer kills wolf"], word="lion"),
            "must appear in every sentence",
        ),
        (lambda: plot_attention(torch.ones(2, 2, 2), ["a", "b"]), "one \\(queries, keys\\) matrix"),
        (lambda: plot_attention(torch.ones(3, 3), ["a", "b"]), "one label per token"),
        (lambda: plot_vector_bars({}), "at least one vector"),
        (lambda: summary_table(-1), "chapter must be at least 0"),
        (lambda: normalised_positions_view(1), "seq_len must be at least 2"),
        (
            lambda: normalised_positions_view(8, index=8),
            "index must be a position of the sequence, 0..7",
        ),
        (lambda: normalised_positions_view(8, index=-1), "index must be at least 0"),
        (lambda: normalised_positions_view(8, train_len=1), "train_len must be at least 2"),
        (lambda: normalised_positions_view(8, max_len=0), "max_len must be at least 1"),
        (lambda: sinusoids_view(128), "position must be one of the table's rows, 0..127"),
        (lambda: sinusoids_view(3, d_model=7), "d_model must be even"),
        (lambda: sinusoids_view(3, base=-2.0), "base must be a positive number"),
        (lambda: sinusoids_view(3, num_clocks=0), "num_clocks must be at least 1"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_lecture_style_uses_projector_sized_fonts():
    use_lecture_style()
    assert plt.rcParams["font.size"] >= 14


def test_summary_table_grows_by_chapter():
    table = summary_table(0)
    header, rule, *rows = table.splitlines()
    assert header.count("|") == rule.count("|") == 9
    assert len(rows) >= 1 and all(r.startswith("| 00 |") for r in rows)
    assert len(summary_table(8).splitlines()) >= len(table.splitlines())


def test_normalised_positions_view_says_which_training_position_an_index_reads_as():
    view = normalised_positions_view(16, index=3, max_len=64, train_len=16)
    for mode in ("by_length", "by_max_len"):       # at the training length both read correctly
        assert view[mode]["reads_as"] == pytest.approx(3.0) and view[mode]["seen_in_training"]
    longer = normalised_positions_view(32, index=3, max_len=64, train_len=16)
    # p/(n-1): index 3 of 32 has the value index 1.45 had when training at 16 (3 * 15 / 31).
    assert longer["by_length"]["reads_as"] == pytest.approx(3 * 15 / 31, rel=1e-5)
    assert longer["by_length"]["gap"] == pytest.approx(1 / 31, rel=1e-5)
    assert longer["by_length"]["values"].shape == (32,) and longer["by_length"][
        "training_values"
    ].shape == (16,)
    # p/max_len: the same index keeps its value; an index past the training length was never seen.
    assert longer["by_max_len"]["index_value"] == pytest.approx(3 / 64)
    late = normalised_positions_view(32, index=20, max_len=64, train_len=16)
    assert (
        late["by_max_len"]["reads_as"] == pytest.approx(20)
        and not late["by_max_len"]["seen_in_training"]
    )
    assert late["by_length"]["seen_in_training"]
    fig = draw_normalised_positions(64, index=40)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_sinusoids_view_shows_the_clocks_of_a_position_and_its_similarity_profile():
    view = sinusoids_view(40, d_model=16, base=10000.0, num_positions=64)
    assert view["table"].shape == (64, 16) and view["similarity"].shape == (64,)
    assert view["similarity"][40].item() == pytest.approx(1.0)          # ‖PE(p)‖² = d/2
    assert view["similarity"].max().item() == pytest.approx(1.0)
    # The fastest clock (pair 0, ω = 1) sits at angle 40 rad mod 2π.
    assert view["clock_pairs"][0] == 0 and view["angles"][0].item() == pytest.approx(
        40 % (2 * math.pi)
    )
    assert view["wavelengths"][0].item() == pytest.approx(2 * math.pi)
    # A larger base slows every clock but the first: neighbours look more alike.
    slow = sinusoids_view(40, d_model=16, base=1e6, num_positions=64)
    assert slow["similarity"][48] > view["similarity"][48]
    fig = draw_sinusoids(10, d_model=16, num_positions=32)
    assert len(fig.axes) == 6 + 2
    plt.close(fig)


def test_learned_tables_view_finds_neighbours_in_a_smooth_table_and_none_in_noise():
    # rows turn slowly
    smooth = torch.stack([torch.cos(torch.arange(16.0) / 8 + k) for k in range(4)], dim=1)
    noise = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    view = learned_tables_view({"smooth": smooth, "noise": noise}, position=7, trained_len=5)
    assert view["smooth"]["nearest"] in (6, 8) and view["smooth"]["neighbour_similarity"] > 0.95
    assert (
        view["smooth"]["similarity"].shape == (16,)
        and abs(view["smooth"]["similarity"][7] - 1) < 1e-6
    )
    assert view["noise"]["nearest"] != 7 and not view["noise"]["reached_in_training"]
    assert learned_tables_view({"noise": noise}, position=0, trained_len=5)["noise"][
        "reached_in_training"
    ]
    fig = draw_learned_tables({"smooth": smooth, "noise": noise}, position=7, trained_len=5)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_rope_view_turns_one_pair_and_its_score_sees_only_the_offset():
    import math as _math

    view = rope_view(5, 2, pair=1, head_dim=16)
    theta = 10000.0 ** (-2 / 16)
    assert view["theta"] == pytest.approx(theta)
    angle = 5 * theta  # q = (1, 0.3) turned by m·θ, by hand
    expected_q = (
        _math.cos(angle) - 0.3 * _math.sin(angle),
        _math.sin(angle) + 0.3 * _math.cos(angle),
    )
    assert view["q"].tolist() == pytest.approx(expected_q)
    assert view["score"] == pytest.approx(rope_view(45, 42, pair=1, head_dim=16)["score"])
    assert view["score"] == pytest.approx(view["score_at_offset_only"])
    assert view["score"] != pytest.approx(rope_view(2, 5, pair=1, head_dim=16)["score"], abs=1e-3)
    fig = draw_rope(5, 2)
    assert len(fig.axes) == 1
    plt.close(fig)
