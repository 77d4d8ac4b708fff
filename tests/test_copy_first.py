"""Chapter 06: copy the first token, the absolute task beside copy-3-back."""

import pytest
import torch

from course_lib.experiments import CopyExperiment, train_copy_model
from course_lib.extrapolation import measure_extrapolation
from course_lib.tasks import IGNORE_INDEX, CopyFirstTask


def test_every_position_but_the_first_is_labelled_with_token_zero():
    tokens, labels = CopyFirstTask(vocab_size=5, seq_len=7).sample(3, torch.Generator())
    assert tokens.shape == labels.shape == (3, 7) and int(tokens.max()) < 5
    assert labels[:, 0].eq(IGNORE_INDEX).all()
    assert torch.equal(labels[:, 1:], tokens[:, :1].expand(3, 6))


def test_a_test_length_other_than_the_training_one_is_honoured():
    tokens, labels = CopyFirstTask().sample(2, torch.Generator().manual_seed(0), seq_len=40)
    assert tokens.shape == labels.shape == (2, 40)


def test_copy_first_is_a_copy_experiment_task_and_leaves_the_standard_one_alone():
    assert CopyExperiment().task().__class__.__name__ == "CopyBackTask"
    first = CopyExperiment(task_name="copy_first", train_len=12)
    assert first.task() == CopyFirstTask(vocab_size=16, seq_len=12)
    model = train_copy_model("alibi", seed=0, config=CopyExperiment(task_name="copy_first",
                                                                   steps=3, causal=True))
    result = measure_extrapolation({"m": model}, first.task(), [12, 20], num_sequences=8)
    assert result["offset"] == 1 and set(result["scores"]["m"]) == {12, 20}


@pytest.mark.parametrize("call, message", [
    (lambda: CopyFirstTask(seq_len=1), "seq_len must be at least 2"),
    (lambda: CopyFirstTask(vocab_size=1), "vocab_size must be at least 2"),
    (lambda: CopyFirstTask().sample(0), "batch_size must be at least 1"),
    (lambda: CopyExperiment(task_name="copy_last"), "task_name must be one of"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
