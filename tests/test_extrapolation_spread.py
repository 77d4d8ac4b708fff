"""Seed-spread helpers of course_lib.extrapolation (chapter 07's showdown).

Expected values are computed independently, with the standard library's statistics module and
NumPy, from the raw scores; never with the helpers themselves.
"""

from __future__ import annotations

import statistics

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.extrapolation import (
    measure_extrapolation,
    per_position_spread,
    plot_spread,
    seed_spread,
    spread_table,
)
from course_lib.tasks import CopyBackTask

RAW = {"RoPE|0": {8: 1.0, 64: 0.5}, "RoPE|1": {8: 0.9, 64: 0.7},
       "T5|0": {8: 1.0, 64: 0.25}, "RoPE|2": {8: 0.8, 64: 0.6}, "T5|1": {8: 0.75, 64: 0.3}}


def fake_result():
    return {"lengths": [8, 64], "trained_len": 8, "offset": 3, "chance": 1 / 16,
            "scores": RAW, "per_position": {name: torch.full((64,), s[64])
                                            for name, s in RAW.items()}}


def test_seed_spread_groups_scores_by_label_in_order_of_appearance():
    spread = seed_spread(fake_result())
    assert list(spread) == ["RoPE", "T5"]
    assert spread["RoPE"] == {8: [1.0, 0.9, 0.8], 64: [0.5, 0.7, 0.6]}
    assert spread["T5"] == {8: [1.0, 0.75], 64: [0.25, 0.3]}


def test_a_label_may_contain_the_separator_only_the_last_one_splits_off_the_seed():
    result = fake_result() | {"scores": {"a|b|0": {8: 0.5, 64: 0.5}}}
    assert list(seed_spread(result)) == ["a|b"]


def test_spread_table_prints_mean_and_range_as_statistics_computes_them():
    table = spread_table(seed_spread(fake_result()), chance=1 / 16)
    rope_row = next(line for line in table.splitlines() if line.startswith("RoPE"))
    for n in (8, 64):
        scores = [RAW[f"RoPE|{seed}"][n] for seed in range(3)]
        assert f"{statistics.mean(scores):.2f} ({min(scores):.2f}-{max(scores):.2f})" in rope_row
    assert table.splitlines()[-1].startswith("chance") and "0.06" in table.splitlines()[-1]


def test_plot_spread_draws_the_mean_and_a_band_from_lowest_to_highest_seed():
    _, ax = plt.subplots()
    plot_spread(seed_spread(fake_result()), trained_len=8, chance=1 / 16, ax=ax)
    assert ax.get_xscale() == "log"
    mean_line = ax.get_lines()[0]
    np.testing.assert_allclose(mean_line.get_ydata(), [np.mean([1.0, 0.9, 0.8]),
                                                       np.mean([0.5, 0.7, 0.6])])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), 0.5) and np.isclose(band.max(), 1.0)
    assert any(np.allclose(line.get_xdata(), [8, 8]) for line in ax.get_lines()), "trained length"
    plt.close("all")


def test_per_position_spread_stacks_seeds_of_a_real_measurement():
    class Constant(torch.nn.Module):            # always answers token 0
        def forward(self, tokens):
            logits = torch.zeros(*tokens.shape, 16)
            logits[..., 0] = 1.0
            return logits

    task = CopyBackTask(offset=3, vocab_size=16, seq_len=8)
    result = measure_extrapolation({"zero|0": Constant(), "zero|1": Constant()}, task, [8, 16],
                                   num_sequences=64)
    curves = per_position_spread(result)["zero"]
    assert curves.shape == (2, 16)
    tokens, labels = task.sample(64, torch.Generator().manual_seed(123), seq_len=16)
    expected = (labels[:, 3:] == 0).float().mean(0)            # right where the answer is 0
    torch.testing.assert_close(curves[0, 3:], expected)


@pytest.mark.parametrize("bad", [{}, {"RoPE": {}}, {"RoPE": {8: []}}, [1, 2]])
def test_a_malformed_spread_is_a_readable_error(bad):
    with pytest.raises(ValueError, match="spread must map a label"):
        spread_table(bad)


def test_a_model_name_without_a_seed_is_a_readable_error():
    with pytest.raises(ValueError, match="label\\|seed"):
        seed_spread(fake_result() | {"scores": {"RoPE": {8: 1.0, 64: 1.0}}})
