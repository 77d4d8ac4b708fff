"""Chapter 04: learned position tables, cross-checked against HF transformers' GPT-2, BERT and
RoBERTa."""

import pytest
import torch

from course_lib import (
    PUBLISHED_TABLES,
    CopyBackTask,
    LearnedPositions,
    TinyTransformer,
    position_similarity,
    seed_everything,
    train,
)


def _capture_input(module):
    """Record what goes into ``module`` on the next forward pass."""
    seen = {}
    module.register_forward_hook(
        lambda mod, args, out: seen.setdefault("input", args[0].detach().clone())
    )
    return seen


def test_lookup_matches_gpt2_embedding_sum():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    gpt2 = GPT2Model(
        GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=1, n_head=2)
    ).eval()
    # GPT-2 applies dropout right after wte + wpe
    seen = _capture_input(gpt2.drop)
    ids = torch.randint(50, (3, 10))
    gpt2(input_ids=ids)
    ours = LearnedPositions(16, 32)
    with torch.no_grad():
        ours.table.weight.copy_(gpt2.wpe.weight)
    assert torch.allclose(ours.embed(gpt2.wte(ids), torch.arange(10)), seen["input"], atol=1e-6)


def test_lookup_matches_bert_embeddings_before_layernorm():
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertEmbeddings

    torch.manual_seed(0)
    bert = BertEmbeddings(
        BertConfig(vocab_size=50, hidden_size=32, max_position_embeddings=20)
    ).eval()
    seen = _capture_input(bert.LayerNorm)
    ids = torch.randint(50, (2, 7))
    bert(input_ids=ids)
    ours = LearnedPositions(20, 32)
    with torch.no_grad():
        ours.table.weight.copy_(bert.position_embeddings.weight)
    tokens = bert.word_embeddings(ids) + bert.token_type_embeddings(torch.zeros_like(ids))
    assert torch.allclose(ours.embed(tokens, torch.arange(7)), seen["input"], atol=1e-6)


def test_default_init_is_bert_and_gpt2_initializer_range():
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

    torch.manual_seed(0)
    gpt2 = GPT2Model(GPT2Config(vocab_size=50, n_positions=256, n_embd=64, n_layer=1, n_head=2))
    bert = BertModel(
        BertConfig(
            vocab_size=50,
            hidden_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=256,
        )
    )
    ours = LearnedPositions(256, 64).table.weight
    for reference in (gpt2.wpe.weight, bert.embeddings.position_embeddings.weight):
        assert abs(reference.std().item() - ours.std().item()) < 0.002
    assert abs(ours.std().item() - 0.02) < 0.002


def test_published_table_sizes_match_reference_configs():
    from transformers import BertConfig, GPT2Config
    from transformers.models.roberta.modeling_roberta import RobertaEmbeddings

    assert PUBLISHED_TABLES["BERT-base"] == (
        BertConfig().max_position_embeddings,
        BertConfig().hidden_size,
    )
    assert PUBLISHED_TABLES["GPT-2 small"] == (GPT2Config().n_positions, GPT2Config().n_embd)
    # RoBERTa counts positions from padding_idx + 1 = 2, so 512 tokens use rows 2..513: 514 rows.
    ids = torch.full((1, 512), 5)
    position_ids = RobertaEmbeddings.create_position_ids_from_input_ids(ids, padding_idx=1)
    assert position_ids[0, 0] == 2 and position_ids.max() + 1 == PUBLISHED_TABLES["RoBERTa-base"][0]


def test_past_the_table_gpt2_raises_an_index_error_and_we_say_why():
    from transformers import GPT2Config, GPT2Model

    gpt2 = GPT2Model(
        GPT2Config(vocab_size=50, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    ).eval()
    with pytest.raises(IndexError):
        gpt2(input_ids=torch.zeros(1, 9, dtype=torch.long))
    model = TinyTransformer(50, 2, d_model=16, position=LearnedPositions(8, 16))
    model(torch.zeros(1, 8, dtype=torch.long))                       # exactly max_len is fine
    with pytest.raises(ValueError, match=r"positions 0\.\.7 \(max_len=8\).*needs position 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_a_model_on_the_meta_device_checks_the_length_without_reading_positions():
    # meta tensors have no values: reading one (a host sync on a GPU) fails there. The length is
    # checked from shapes alone, with the same message as on the CPU.
    model = TinyTransformer(50, 2, d_model=16, position=LearnedPositions(8, 16)).to("meta")
    assert model(torch.zeros(2, 8, dtype=torch.long, device="meta")).device.type == "meta"
    with pytest.raises(ValueError, match=r"positions 0\.\.7 \(max_len=8\).*needs position 8"):
        model(torch.zeros(1, 9, dtype=torch.long, device="meta"))


def test_negative_positions_are_explained_where_gpt2_raises_an_index_error():
    from transformers import GPT2Config, GPT2Model

    gpt2 = GPT2Model(
        GPT2Config(vocab_size=50, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    ).eval()
    with pytest.raises(IndexError):
        gpt2(input_ids=torch.zeros(1, 3, dtype=torch.long), position_ids=torch.tensor([[0, -9, 1]]))
    with pytest.raises(ValueError, match="count from 0 .* got position -9"):
        LearnedPositions(8, 16).embed(torch.zeros(1, 3, 16), torch.tensor([0, -9, 1]))


def test_positions_per_sequence_are_looked_up_row_by_row():
    scheme = LearnedPositions(8, 4)
    positions = torch.tensor([[0, 1, 2], [5, 6, 7]])                 # (batch, seq)
    out = scheme.embed(torch.zeros(2, 3, 4), positions)
    assert torch.equal(out, scheme.table.weight[positions])


def test_rows_past_the_training_length_get_no_gradient_and_only_adamw_decay():
    task = CopyBackTask(offset=1, vocab_size=4, seq_len=5)
    for weight_decay in (0.01, 0.0):
        seed_everything(0)
        model = TinyTransformer(4, 4, d_model=8, position=LearnedPositions(12, 8), pool=None)
        start = model.position.table.weight.detach().clone()
        steps, lr = 20, 0.05
        train(model, task, steps=steps, lr=lr, progress=False, weight_decay=weight_decay)
        table = model.position.table.weight.detach()
        expected = start[5:] * (1 - lr * weight_decay) ** steps
        assert torch.allclose(table[5:], expected, rtol=1e-5, atol=0)
        assert (table[:5] - start[:5]).norm() > 10 * (table[5:] - expected).norm() + 1e-3
    assert torch.equal(table[5:], start[5:]), "without weight decay: untouched bit for bit"


def test_position_similarity_is_the_cosine_of_every_pair_of_rows():
    table = (
        torch.randn(9, 5, generator=torch.Generator().manual_seed(0))
        * torch.arange(1.0, 10.0)[:, None]
    )
    expected = torch.nn.functional.cosine_similarity(table[:, None], table[None, :], dim=-1)
    assert torch.allclose(position_similarity(table), expected, atol=1e-6)
    with_zero_row = torch.cat([table, torch.zeros(1, 5)])
    assert torch.equal(position_similarity(with_zero_row)[-1], torch.zeros(10))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: position_similarity(torch.zeros(3)), "must be 2-D"),
        (lambda: position_similarity(torch.zeros(3, 2, dtype=torch.long)), "floating-point"),
        (lambda: position_similarity([[1.0, 0.0]]), "must be a torch.Tensor"),
        (lambda: LearnedPositions(4, 2, init_std=0), "init_std must be a positive number"),
        (
            lambda: train(TinyTransformer(4, 2), CopyBackTask(), steps=1, weight_decay=-1),
            "weight_decay must be",
        ),
    ],
)
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
