"""The standard experiment (course_lib.experiments): the recipe the chapters used to type out,
defined once."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import (
    CopyBackTask,
    LearnedPositions,
    MixedLengths,
    TinyTransformer,
    seed_everything,
    train,
)
from course_lib.experiments import COPY_SCHEMES, CopyExperiment, copy_scheme, train_copy_model
from course_lib.rope import RotaryPositions

SHORT = CopyExperiment(steps=12)          # the same recipe, fewer steps: the tests stay fast


def _by_hand(make_position, seed, config):
    """The set-up chapters 02-05 wrote out in full before the helper existed."""
    seed_everything(seed)
    model = TinyTransformer(
        16, 16, d_model=32, num_heads=2, num_layers=2, position=make_position(), pool=None
    )
    losses = train(model, config.task(), steps=config.steps, batch_size=64, lr=3e-3, seed=seed,
                   progress=False)
    return model, losses


@pytest.mark.parametrize("name, make", [("rope", lambda: RotaryPositions(16)),
                                        ("learned", lambda: LearnedPositions(64, 32))])
def test_the_helper_trains_exactly_the_model_the_chapters_wrote_out(name, make):
    model_by_hand, losses_by_hand = _by_hand(make, 1, SHORT)
    model, losses = train_copy_model(name, seed=1, config=SHORT, return_losses=True)
    assert losses == losses_by_hand
    for (key, a), (_, b) in zip(model.state_dict().items(), model_by_hand.state_dict().items()):
        assert torch.equal(a, b), key


def test_a_second_call_reuses_the_training_but_returns_its_own_copy():
    first = train_copy_model("sinusoidal", seed=0, config=SHORT)
    with torch.no_grad():
        first.token_embedding.weight.zero_()
    second = train_copy_model("sinusoidal", seed=0, config=SHORT)
    assert second is not first
    assert second.token_embedding.weight.abs().sum() > 0, (
        "a change to one copy reached the next call"
    )
    assert not second.training, "the trained model is returned in eval mode"


def test_training_leaves_the_notebooks_random_generators_alone():
    def draws():
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(5)
    expected = draws()
    seed_everything(5)
    train_copy_model("rope", seed=3, config=CopyExperiment(steps=3))          # a fresh training
    after_fresh = draws()
    seed_everything(5)
    train_copy_model("rope", seed=3, config=CopyExperiment(steps=3))          # the cached one
    after_cached = draws()
    for got in (after_fresh, after_cached):
        assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_every_scheme_of_the_standard_experiment_builds_and_runs():
    tokens = torch.randint(16, (2, 16))
    for name in COPY_SCHEMES:
        model = TinyTransformer(
            16, 16, d_model=32, num_heads=2, num_layers=2, position=copy_scheme(name), pool=None
        )
        assert model(tokens).shape == (2, 16, 16), name


@pytest.mark.parametrize("call, message", [
    (lambda: train_copy_model("halves"), "scheme must be one of"),
    (lambda: train_copy_model("rope", seed=-1), "seed must be at least 0"),
    (lambda: train_copy_model("rope", seed=1.5), "seed must be a whole number"),
    (lambda: train_copy_model("rope", config={"steps": 3}), "config must be a CopyExperiment"),
    (lambda: copy_scheme("RoPE"), "'rope'"),
])
def test_bad_arguments_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mixed_length_training_draws_every_listed_length_and_only_those():
    task = MixedLengths(CopyBackTask(seq_len=16), (8, 12, 32))
    gen = torch.Generator().manual_seed(0)
    seen = {task.sample(2, gen)[0].shape[1] for _ in range(60)}
    assert seen == {8, 12, 32}
    assert task.sample(2, gen, seq_len=20)[0].shape == (2, 20)    # an explicit length wins
    assert CopyExperiment(train_lens=(8, 32)).training_task().lengths == (8, 32)
    assert CopyExperiment().training_task() == CopyExperiment().task()


def test_a_causal_experiment_trains_a_causal_model():
    """Changing a later token must not change an earlier token's logits (and does without)."""
    tokens = torch.randint(16, (1, 16), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 16
    for causal in (True, False):
        model = train_copy_model("rope", seed=0, config=CopyExperiment(steps=3, causal=causal))
        moved = (model(tokens)[0, :-1] - model(changed)[0, :-1]).abs().max().item()
        assert (moved == 0) == causal, (causal, moved)


@pytest.mark.parametrize("lengths", [(), (8, 0), (8, 2.5), (True,)])
def test_mixed_lengths_reject_bad_length_lists(lengths):
    with pytest.raises(ValueError, match="lengths must be a non-empty tuple of positive ints"):
        MixedLengths(CopyBackTask(), lengths)
