"""The agent task's data, the seeded training loop, and what an order-blind model can reach."""

import math
from collections import Counter

import pytest
import torch

from course_lib import (
    AgentTask,
    CopyBackTask,
    NoPositions,
    TinyTransformer,
    accuracy,
    seed_everything,
    toy_attention_weights,
    toy_word_vectors,
    train,
)


def test_agent_task_samples_are_well_formed():
    task = AgentTask(num_nouns=5, num_verbs=3)
    tokens, labels = task.sample(500, torch.Generator().manual_seed(0))
    assert tokens.shape == (500, 3) and torch.equal(labels, tokens[:, 0])
    assert torch.all(tokens[:, 0] != tokens[:, 2]), "agent and patient differ"
    assert torch.all(tokens[:, [0, 2]] < 5) and torch.all((tokens[:, 1] >= 5) & (tokens[:, 1] < 8))
    assert set(tokens[:, 0].tolist()) == set(range(5)) and set(tokens[:, 2].tolist()) == set(
        range(5)
    )


def test_all_sentences_is_symmetric_and_complete():
    task = AgentTask()
    tokens, labels = task.all_sentences()
    n, v = task.num_nouns, task.num_verbs
    assert len(tokens) == n * (n - 1) * v
    rows = {tuple(r) for r in tokens.tolist()}
    assert len(rows) == len(tokens)
    assert all((c, b, a) in rows for a, b, c in rows), "every A v B has its mirror B v A"
    # Hence a bag-of-words model's ceiling is exactly 1/2 (computed independently here).
    bags = Counter(tuple(sorted(r)) for r in tokens.tolist())
    assert set(bags.values()) == {2}


def test_encode_decode_round_trip():
    task = AgentTask()
    assert task.decode(task.encode("Lion kills deer")) == "lion kills deer"
    assert task.encode("lion kills deer").tolist() == [0, 12, 1]


def test_same_word_same_vector_anywhere():
    a = toy_word_vectors(["lion", "kills", "deer"], dim=5)
    b = toy_word_vectors(["deer", "eats", "lion", "lion"], dim=5)
    assert torch.equal(a[0], b[2]) and torch.equal(b[2], b[3]) and torch.equal(a[2], b[0])
    assert not torch.allclose(a[0], a[2])
    assert not torch.equal(toy_word_vectors(["lion"], seed=1), toy_word_vectors(["lion"], seed=2))


def test_training_is_reproducible_with_a_seed():
    task = AgentTask(num_nouns=4, num_verbs=2)
    runs = []
    for _ in range(2):
        seed_everything(3)
        model = TinyTransformer(task.vocab_size, task.num_classes, d_model=8)
        runs.append(train(model, task, steps=20, seed=3, progress=False))
    assert runs[0] == runs[1]


def test_order_blind_model_reaches_but_cannot_pass_one_half():
    task = AgentTask(num_nouns=6, num_verbs=2)
    seed_everything(0)
    model = TinyTransformer(task.vocab_size, task.num_classes, d_model=16, position=NoPositions())
    train(model, task, steps=150, seed=0, progress=False)
    tokens, labels = task.all_sentences()
    acc = accuracy(model, tokens, labels)
    assert 0.45 <= acc <= 0.5
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(tokens), labels).item()
    assert loss >= math.log(2) - 1e-4


def test_accuracy_per_position():
    model = TinyTransformer(5, 3, d_model=8, pool=None)
    tokens = torch.randint(5, (4, 6))
    assert 0.0 <= accuracy(model, tokens, torch.zeros(4, 6, dtype=torch.long)) <= 1.0
    with pytest.raises(ValueError, match="labels have shape"):
        accuracy(model, tokens, torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: AgentTask(num_nouns=1), "num_nouns must be at least 2"),
        (lambda: AgentTask(num_nouns=40), "at most 16 nouns"),
        (lambda: AgentTask().encode("lion eats deer"), r"unknown word\(s\) \['eats'\]"),
        (lambda: AgentTask().sample(0), "batch_size must be at least 1"),
        (lambda: toy_word_vectors([]), "non-empty list of strings"),
        (lambda: toy_word_vectors(["a"], dim=0), "dim must be at least 1"),
        (lambda: toy_attention_weights(dim=-2), "dim must be at least 1"),
        (lambda: seed_everything(-1), "seed must be at least 0"),
        (lambda: train(TinyTransformer(5, 2), AgentTask(), steps=0), "steps must be at least 1"),
        (lambda: train(TinyTransformer(5, 2), AgentTask(), lr=0), "lr must be a positive number"),
        (lambda: train(TinyTransformer(5, 2), object()), "sample"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_measure_extrapolation_scores_each_length_and_splits_seen_from_unseen_positions():
    import matplotlib.pyplot as plt

    from course_lib import extrapolation_table, measure_extrapolation, plot_per_position

    class CopyPerfectly(torch.nn.Module):
        """Copies 2 back correctly at positions < 6 and always answers wrongly from position 6
        on."""
        def forward(self, tokens):
            shifted = torch.roll(tokens, 2, dims=1)
            # right before position 6, always wrong from it
            shifted[:, 6:] = (shifted[:, 6:] + 1) % 4
            return torch.nn.functional.one_hot(shifted, 4).float()

    task = CopyBackTask(offset=2, vocab_size=4, seq_len=6)
    result = measure_extrapolation({"oracle": CopyPerfectly()}, task, test_lengths=[12, 6])
    assert result["lengths"] == [6, 12] and result["chance"] == 0.25
    assert result["scores"]["oracle"][6] == 1.0
    # positions 2-5 right of 2-11
    assert result["scores"]["oracle"][12] == pytest.approx(4 / 10)
    assert result["seen"]["oracle"] == 1.0 and result["unseen"]["oracle"] == 0.0
    assert result["per_position"]["oracle"].shape == (12,)
    table = extrapolation_table(result)
    assert (
        "positions 2-5   positions 6-11 (at n=12)" in table
        and "oracle" in table
        and "chance" in table
    )
    ax = plot_per_position(result)
    assert len(ax.lines) == 3
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="non-empty dict"):
        measure_extrapolation({}, task, [6])
    with pytest.raises(ValueError, match="test length must be at least 3"):
        measure_extrapolation({"oracle": CopyPerfectly()}, task, [2])
