"""Chapter 06: the own-position task, hidden states and the linear probe."""

import pytest
import torch

from course_lib import TinyTransformer
from course_lib.probes import OwnPositionTask, hidden_states, linear_probe_accuracy


def test_own_position_task_labels_each_token_with_its_position():
    tokens, labels = OwnPositionTask(vocab_size=5, seq_len=6).sample(3, torch.Generator())
    assert tokens.shape == labels.shape == (3, 6)
    assert torch.equal(labels, torch.arange(6).expand(3, 6))
    assert int(tokens.max()) < 5


def test_hidden_states_are_what_the_head_reads():
    torch.manual_seed(0)
    model = TinyTransformer(8, 4, d_model=16, pool=None)
    tokens = torch.randint(8, (2, 5))
    states = hidden_states(model, tokens)
    assert states.shape == (2, 5, 16)
    assert torch.allclose(model.head(states), model(tokens))


def test_linear_probe_reads_a_linear_code_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(4, (400,), generator=gen)
    code = torch.nn.functional.one_hot(labels, 4).double() + 0.1 * torch.randn(400, 4,
                                                                               generator=gen,
                                                                               dtype=torch.float64)
    assert linear_probe_accuracy(code[:200], labels[:200], code[200:], labels[200:]) == 1.0
    noise = torch.randn(400, 4, generator=gen, dtype=torch.float64)
    assert linear_probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.4


def test_without_positions_a_repeated_token_gets_the_same_state_everywhere_even_causal():
    torch.manual_seed(0)
    model = TinyTransformer(8, 4, d_model=16, num_layers=2, pool=None)
    tokens = torch.full((1, 6), 3)                 # one token repeated: positions differ only
    states = hidden_states(model, tokens)[0]
    assert torch.allclose(states, states[0].expand_as(states), atol=1e-6)
    # A causal mask alone does not help here: position p averages p + 1 equal vectors. What it
    # leaks comes from averaging *different* tokens (chapter 06).
    causal = TinyTransformer(8, 4, d_model=16, num_layers=2, causal=True, pool=None)
    states = hidden_states(causal, tokens)[0]
    assert torch.allclose(states, states[0].expand_as(states), atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: OwnPositionTask(seq_len=1), "seq_len must be at least 2"),
    (lambda: linear_probe_accuracy(torch.zeros(3), torch.zeros(3, dtype=torch.long),
                                   torch.zeros(3, 1), torch.zeros(3, dtype=torch.long)),
     "train_x"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
