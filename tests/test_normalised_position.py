"""Chapter 02's normalised positions and the copy-back task."""

import pytest
import torch

from course_lib import (
    IGNORE_INDEX,
    CopyBackTask,
    NormalisedPosition,
    TinyTransformer,
    accuracy,
    accuracy_by_position,
    copy_offset_profile,
    normalised_positions,
    seed_everything,
    train,
)


def test_by_length_spans_zero_to_one_at_every_length():
    for n in (2, 7, 64):
        p = normalised_positions(n)
        assert p[0] == 0 and p[-1] == 1 and torch.all(p.diff() > 0)
    assert normalised_positions(1).tolist() == [0.0]


def test_by_length_is_inconsistent_across_lengths_and_neighbours_drift_together():
    # same index, different value
    assert normalised_positions(16)[3] != normalised_positions(31)[3]
    for n in (8, 64, 512):
        assert torch.allclose(
            normalised_positions(n).diff(), torch.full((n - 1,), 1 / (n - 1)), atol=1e-6
        )


def test_by_max_len_is_consistent_and_leaves_zero_one_past_max_len():
    assert torch.equal(
        normalised_positions(8, "by_max_len", 16), normalised_positions(32, "by_max_len", 16)[:8]
    )
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
    model = TinyTransformer(
        4, 4, d_model=16, position=NormalisedPosition("by_max_len", 8), pool=None
    )
    losses = train(model, task, steps=5, seed=0, progress=False)
    assert all(loss == loss for loss in losses), "no nan: ignored labels must not reach the loss"
    tokens, labels = task.sample(8, torch.Generator().manual_seed(1))
    predictions = model(tokens).argmax(-1)
    expected = (predictions[:, 1:] == labels[:, 1:]).float().mean().item()
    assert accuracy(model, tokens, labels) == pytest.approx(expected)


class _Fixed(torch.nn.Module):
    """A stand-in model that returns fixed predictions (as one-hot logits)."""

    def __init__(self, predictions, num_classes):
        super().__init__()
        self.logits = torch.nn.functional.one_hot(predictions, num_classes).float()

    def forward(self, tokens):
        return self.logits


def test_accuracy_by_position_averages_each_column_and_leaves_unscored_columns_nan():
    labels = torch.tensor([[IGNORE_INDEX, 1, 2, 3], [IGNORE_INDEX, 1, 0, 3]])
    predictions = torch.tensor([[0, 1, 2, 0], [0, 0, 2, 3]])
    per_position = accuracy_by_position(
        _Fixed(predictions, 4), torch.zeros(2, 4, dtype=torch.long), labels
    )
    assert torch.isnan(per_position[0])
    assert per_position[1:].tolist() == [0.5, 0.5, 0.5]
    # Averaged over the scored columns (equal counts here), it is the overall accuracy.
    assert per_position[1:].mean().item() == pytest.approx(
        accuracy(_Fixed(predictions, 4), labels, labels)
    )


def test_copy_offset_profile_finds_where_predictions_were_copied_from():
    tokens = torch.randint(50, (64, 40), generator=torch.Generator().manual_seed(0))
    three_back = torch.roll(tokens, shifts=3, dims=1)        # prediction at p = token at p - 3
    profile = copy_offset_profile(tokens, three_back, max_offset=10)
    assert profile.shape == (11,) and profile.argmax().item() == 3 and profile[3].item() == 1.0
    # Other offsets match only by chance, about 1/50.
    assert profile[torch.arange(11) != 3].max().item() < 0.06
    assert copy_offset_profile(tokens, tokens, max_offset=0).tolist() == [1.0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: normalised_positions(0), "seq_len must be at least 1"),
        (
            lambda: normalised_positions(4, "by_max"),
            "mode must be one of 'by_length', 'by_max_len'",
        ),
        (lambda: normalised_positions(4, "by_max_len"), "needs max_len"),
        (lambda: NormalisedPosition("by_max_len"), "needs max_len"),
        (lambda: NormalisedPosition("by_max_len", max_len=0), "max_len must be at least 1"),
        (lambda: CopyBackTask(offset=0), "offset must be at least 1"),
        (lambda: CopyBackTask(offset=3, seq_len=3), "seq_len must be at least 4"),
        (lambda: CopyBackTask().sample(2, seq_len=2), "seq_len must be at least 4"),
        (
            lambda: accuracy(
                TinyTransformer(4, 4, pool=None),
                torch.zeros(1, 3, dtype=torch.long),
                torch.full((1, 3), IGNORE_INDEX),
            ),
            "nothing to score",
        ),
        (
            lambda: accuracy_by_position(
                TinyTransformer(4, 4),
                torch.zeros(2, 3, dtype=torch.long),
                torch.zeros(2, dtype=torch.long),
            ),
            "per-token labels of shape",
        ),
        (lambda: copy_offset_profile(torch.zeros(2, 5), torch.zeros(2, 4), 1), "both have shape"),
        (
            lambda: copy_offset_profile(torch.zeros(2, 5), torch.zeros(2, 5), 5),
            "max_offset must be smaller",
        ),
        (
            lambda: copy_offset_profile(torch.zeros(2, 5), torch.zeros(2, 5), -1),
            "max_offset must be at least 0",
        ),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
