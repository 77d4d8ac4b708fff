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


# --- attention beyond the training window (section 4's causal ALiBi and copy-the-first-token) ---

from course_lib.probes import attention_beyond, attention_mass_beyond  # noqa: E402


def test_uniform_causal_attention_puts_the_counted_share_beyond_the_window():
    seq, window = 10, 3
    weights = torch.ones(seq, seq).tril()
    weights = weights / weights.sum(-1, keepdim=True)             # query i: 1/(i+1) on each key
    expected = torch.tensor([max(i - window, 0) / (i + 1) for i in range(seq)])
    assert torch.allclose(attention_beyond(weights, window), expected)


def test_attention_on_the_first_key_is_all_beyond_once_the_query_is_past_the_window():
    weights = torch.zeros(2, 3, 8, 8)
    weights[..., 0] = 1.0                                          # every query looks at key 0
    beyond = attention_beyond(weights, window=4)
    assert beyond.shape == (2, 3, 8)
    assert beyond[..., :5].eq(0).all() and beyond[..., 5:].eq(1).all()


def test_alibi_alone_leaves_the_geometric_share_beyond_the_window_cross_checked_with_bloom():
    """With q·k = 0 the weights are Bloom's ALiBi alone: key d back gets r^d / sum r^e, r = e^-m,
    so the share more than w back is (r^(w+1) - r^(i+1)) / (1 - r^(i+1))."""
    import math

    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    heads, seq, window = 4, 24, 5
    bloom = build_alibi_tensor(torch.ones(1, seq), heads, torch.float64)   # (heads, 1, seq)
    future = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    weights = bloom.expand(heads, seq, seq).masked_fill(future, -math.inf).softmax(-1)
    r = torch.exp(-torch.tensor([2.0 ** (-8 * h / heads) for h in range(1, heads + 1)],
                                dtype=torch.float64))[:, None]
    i = torch.arange(seq, dtype=torch.float64)
    expected = ((r ** (window + 1) - r ** (i + 1)) / (1 - r ** (i + 1))).clamp(min=0)
    assert torch.allclose(attention_beyond(weights, window), expected, atol=1e-12)


def test_attention_mass_beyond_is_one_number_per_layer_and_head_averaged_over_far_queries():
    torch.manual_seed(0)
    model = TinyTransformer(8, 8, d_model=16, num_heads=2, num_layers=3, causal=True, pool=None)
    tokens = torch.randint(8, (4, 12))
    mass = attention_mass_beyond(model, tokens, window=5)
    assert mass.shape == (3, 2)
    by_hand = [attention_beyond(w, 5)[..., 6:].mean((0, -1)) for w in model.attention_weights]
    assert torch.allclose(mass, torch.stack(by_hand))
    # no position scheme, causal: query i averages i + 1 keys, so the share is far from 0 and 1
    assert ((mass > 0.05) & (mass < 0.95)).all()


@pytest.mark.parametrize("call, message", [
    (lambda: attention_beyond(torch.ones(3, 4) / 4, 1), "square"),
    (lambda: attention_beyond(torch.ones(4, 4) / 4, -1), "window must be at least 0"),
    (lambda: attention_beyond(torch.ones(4, 4, dtype=torch.long), 1), "weights"),
    (lambda: attention_mass_beyond(TinyTransformer(8, 8, pool=None), torch.zeros(1, 6,
                                   dtype=torch.long), 5), "longer than window"),
])
def test_bad_window_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
