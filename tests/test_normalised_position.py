"""Chapter 02's normalised positions and the copy-back task."""

import pytest
import torch

from course_lib import (
    IGNORE_INDEX, CopyBackTask, NormalisedPosition, TinyTransformer, accuracy, normalised_positions,
    seed_everything, train,
)


def test_by_length_spans_zero_to_one_at_every_length():
    for n in (2, 7, 64):
        p = normalised_positions(n)
        assert p[0] == 0 and p[-1] == 1 and torch.all(p.diff() > 0)
    assert normalised_positions(1).tolist() == [0.0]


def test_by_length_is_inconsistent_across_lengths_and_neighbours_drift_together():
    assert normalised_positions(16)[3] != normalised_positions(31)[3]      # same index, different value
    for n in (8, 64, 512):
        assert torch.allclose(normalised_positions(n).diff(), torch.full((n - 1,), 1 / (n - 1)), atol=1e-6)


def test_by_max_len_is_consistent_and_leaves_zero_one_past_max_len():
    assert torch.equal(normalised_positions(8, "by_max_len", 16), normalised_positions(32, "by_max_len", 16)[:8])
    assert normalised_positions(32, "by_max_len", 16)[-1] > 1


def test_scheme_appends_the_normalised_position():
    x = torch.zeros(2, 5, 3)
    out = NormalisedPosition("by_length").embed(x, torch.arange(5))
    assert out.shape == (2, 5, 4) and torch.equal(out[1, :, -1], normalised_positions(5))
    out = NormalisedPosition("by_max_len", max_len=10).embed(x, torch.arange(5))
    assert torch.equal(out[0, :, -1], normalised_positions(5, "by_max_len", 10))


def test_copy_back_labels_point_offset_places_back():
    task = CopyBackTask(offset=3, vocab_size=10, seq_len=12)
    tokens, labels = task.sample(4, torch.Generator().manual_seed(0))
    assert tokens.shape == labels.shape == (4, 12)
    assert torch.all(labels[:, :3] == IGNORE_INDEX) and torch.equal(labels[:, 3:], tokens[:, :-3])
    assert task.sample(2, seq_len=40)[0].shape == (2, 40)


def test_accuracy_and_training_ignore_positions_without_an_answer():
    task = CopyBackTask(offset=1, vocab_size=4, seq_len=6)
    seed_everything(0)
    model = TinyTransformer(4, 4, d_model=16, position=NormalisedPosition("by_max_len", 8), pool=None)
    losses = train(model, task, steps=5, seed=0, progress=False)
    assert all(loss == loss for loss in losses), "no nan: ignored labels must not reach the loss"
    tokens, labels = task.sample(8, torch.Generator().manual_seed(1))
    predictions = model(tokens).argmax(-1)
    expected = (predictions[:, 1:] == labels[:, 1:]).float().mean().item()
    assert accuracy(model, tokens, labels) == pytest.approx(expected)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: normalised_positions(0), "seq_len must be at least 1"),
        (lambda: normalised_positions(4, "by_max"), "mode must be one of 'by_length', 'by_max_len'"),
        (lambda: normalised_positions(4, "by_max_len"), "needs max_len"),
        (lambda: NormalisedPosition("by_max_len"), "needs max_len"),
        (lambda: NormalisedPosition("by_max_len", max_len=0), "max_len must be at least 1"),
        (lambda: CopyBackTask(offset=0), "offset must be at least 1"),
        (lambda: CopyBackTask(offset=3, seq_len=3), "seq_len must be at least 4"),
        (lambda: CopyBackTask().sample(2, seq_len=2), "seq_len must be at least 4"),
        (lambda: accuracy(TinyTransformer(4, 4, pool=None), torch.zeros(1, 3, dtype=torch.long),
                          torch.full((1, 3), IGNORE_INDEX)), "nothing to score"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
