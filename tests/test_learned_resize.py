"""Chapter 04, part two: where tables start (HF GPT-2 and BERT), the random-start table (SHAPE-style
training), and resizing a table — interpolation as HF ViT calls it, tiling as Longformer's
conversion script does it."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import (
    INITIAL_STD,
    LearnedPositions,
    RandomStartPositions,
    TinyTransformer,
    interpolate_table,
    seed_everything,
    tile_table,
)
from course_lib.experiments import COPY_SCHEMES, CopyExperiment, copy_scheme

# --- where the tables start ----------------------------------------------------------------------


def test_hf_gpt2_and_bert_start_token_and_position_rows_at_the_listed_std():
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

    torch.manual_seed(0)
    gpt2 = GPT2Model(GPT2Config(vocab_size=2000, n_positions=1024, n_embd=64, n_layer=1, n_head=2))
    bert = BertModel(BertConfig(vocab_size=2000, hidden_size=64, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64,
                                max_position_embeddings=1024))
    measured = {
        "GPT-2 (HF transformers)": (gpt2.wte.weight.std(), gpt2.wpe.weight.std()),
        "BERT (HF transformers)": (bert.embeddings.word_embeddings.weight.std(),
                                   bert.embeddings.position_embeddings.weight.std()),
    }
    for name, (token_std, position_std) in measured.items():
        assert token_std.item() == pytest.approx(INITIAL_STD[name][0], rel=0.03), name
        assert position_std.item() == pytest.approx(INITIAL_STD[name][1], rel=0.03), name


def test_openai_gpt2_starts_positions_at_half_the_token_std():
    # openai/gpt-2 src/model.py: wpe random_normal_initializer(stddev=0.01), wte stddev=0.02
    token_std, position_std = INITIAL_STD["GPT-2 (OpenAI's code)"]
    assert (token_std, position_std) == (0.02, 0.01)


def test_course_models_start_tokens_at_1_and_positions_at_0_02():
    seed_everything(0)
    tokens = torch.nn.Embedding(2000, 64).weight
    positions = LearnedPositions(1024, 64).table.weight
    assert tokens.std().item() == pytest.approx(INITIAL_STD["this course's models"][0], rel=0.03)
    assert positions.std().item() == pytest.approx(INITIAL_STD["this course's models"][1], rel=0.03)


# --- the random-start table ----------------------------------------------------------------------


def test_eval_mode_reads_rows_from_start():
    scheme = RandomStartPositions(64, 8, start=8).eval()
    x = torch.zeros(2, 5, 8)
    out = scheme.embed(x, torch.arange(5))
    assert torch.equal(out, scheme.table.weight[8:13].expand(2, 5, 8))


def test_eval_mode_with_start_0_is_the_plain_learned_table():
    seed_everything(3)
    plain = LearnedPositions(32, 8)
    seed_everything(3)
    shifted = RandomStartPositions(32, 8).eval()
    x = torch.randn(3, 10, 8)
    assert torch.equal(shifted.embed(x, torch.arange(10)), plain.embed(x, torch.arange(10)))


def test_training_mode_each_sequence_reads_a_contiguous_run_of_rows():
    scheme = RandomStartPositions(64, 8).train()
    with torch.no_grad():    # row p holds the number p, so the output says which rows were read
        scheme.table.weight.copy_(torch.arange(64.0)[:, None].expand(64, 8))
    torch.manual_seed(0)
    out = scheme.embed(torch.zeros(500, 16, 8), torch.arange(16))[..., 0]       # (500, 16)
    starts = out[:, 0]
    assert torch.equal(out, starts[:, None] + torch.arange(16.0))
    assert starts.min() == 0 and starts.max() == 64 - 16   # every start 0..48 is possible
    assert len(starts.unique()) == 49


def test_training_starts_come_from_torchs_global_generator():
    scheme = RandomStartPositions(64, 8).train()
    x = torch.zeros(8, 16, 8)
    torch.manual_seed(5)
    first = scheme.embed(x, torch.arange(16))
    torch.manual_seed(5)
    assert torch.equal(scheme.embed(x, torch.arange(16)), first)


def test_training_reaches_every_row_with_short_sequences():
    scheme = RandomStartPositions(64, 8).train()
    torch.manual_seed(0)
    scheme.embed(torch.zeros(256, 16, 8), torch.arange(16)).sum().backward()
    assert (scheme.table.weight.grad.norm(dim=-1) > 0).all()


def test_from_table_copies_the_table_and_is_in_eval_mode():
    table = torch.randn(20, 4)
    scheme = RandomStartPositions.from_table(table, start=3)
    assert not scheme.training and scheme.start == 3
    assert torch.equal(scheme.table.weight.detach(), table)
    table += 1
    assert not torch.equal(scheme.table.weight.detach(), table)


def test_random_start_is_a_copy_scheme():
    assert "learned_random_start" in COPY_SCHEMES
    scheme = copy_scheme("learned_random_start", CopyExperiment())
    assert isinstance(scheme, RandomStartPositions) and scheme.max_len == 64


def test_random_start_errors():
    with pytest.raises(ValueError, match="start must be at least 0"):
        RandomStartPositions(16, 4, start=-1)
    with pytest.raises(ValueError, match="max_len=16"):
        RandomStartPositions(16, 4, start=10).eval().embed(torch.zeros(1, 8, 4), torch.arange(8))
    with pytest.raises(ValueError, match="does not fit"):
        RandomStartPositions(16, 4).train().embed(torch.zeros(1, 20, 4), torch.arange(20))
    with pytest.raises(ValueError, match="2-D"):
        RandomStartPositions.from_table(torch.zeros(4))


# --- resizing: interpolation (ViT) and tiling (Longformer) ---------------------------------------


def test_bicubic_matches_hf_vit_interpolate_pos_encoding_row_by_row():
    from transformers import ViTConfig
    from transformers.models.vit.modeling_vit import ViTEmbeddings

    side, patch, dim = 4, 2, 6
    vit = ViTEmbeddings(ViTConfig(image_size=side * patch, patch_size=patch, hidden_size=dim))
    torch.manual_seed(0)
    with torch.no_grad():
        vit.position_embeddings.normal_()
    grid = vit.position_embeddings[0, 1:].detach().reshape(side, side, dim)   # (rows, cols, dim)
    new_cols = 7                        # same height, wider image: only the columns are resampled
    embeddings = torch.zeros(1, 1 + side * new_cols, dim)
    hf = vit.interpolate_pos_encoding(embeddings, height=side * patch, width=new_cols * patch)
    hf_grid = hf[0, 1:].detach().reshape(side, new_cols, dim)
    for row in range(side):
        ours = interpolate_table(grid[row], new_cols, mode="bicubic")
        assert torch.allclose(ours, hf_grid[row], atol=1e-5)


def test_linear_matches_functional_interpolate_as_timm_calls_it():
    # timm resample_abs_pos_embed: F.interpolate(posemb (1, d, ...), size=new_size, mode=...,
    # antialias=...) with align_corners left at False; on a 1-D table, mode="linear".
    table = torch.randn(10, 5)
    reference = F.interpolate(table.T[None], size=23, mode="linear", align_corners=False)[0].T
    assert torch.allclose(interpolate_table(table, 23), reference)


def test_interpolation_keeps_a_linear_ramp_on_the_stretched_grid():
    table = torch.arange(8.0)[:, None] * torch.tensor([[1.0, -2.0]])    # row p = p·(1, -2)
    new = interpolate_table(table, 16)
    centres = (torch.arange(16.0) + 0.5) * 8 / 16 - 0.5                  # where new rows read
    inside = (centres >= 0) & (centres <= 7)
    assert torch.allclose(new[inside], centres[inside, None] * torch.tensor([[1.0, -2.0]]))


def test_interpolation_to_the_same_length_is_the_identity():
    table = torch.randn(12, 3)
    for mode in ("linear", "bicubic", "nearest"):
        assert torch.allclose(interpolate_table(table, 12, mode=mode), table, atol=1e-6)


def test_interpolation_keeps_dtype():
    table = torch.randn(6, 4, dtype=torch.float64)
    assert interpolate_table(table, 9).dtype == torch.float64


def _longformer_copy(table, new_len):
    """allenai/longformer scripts/convert_model_to_long.ipynb, without RoBERTa's two reserved
    rows: new_pos_embed[k:k + step] = old rows, k += step, until the new table is full."""
    new = table.new_empty(new_len, table.shape[1])
    k, step = 0, table.shape[0]
    while k < new_len:
        chunk = min(step, new_len - k)
        new[k:k + chunk] = table[:chunk]
        k += step
    return new


def test_tiling_matches_longformers_copy_loop():
    table = torch.randn(16, 4)
    for new_len in (16, 40, 64):
        assert torch.equal(tile_table(table, new_len), _longformer_copy(table, new_len))


def test_tiling_repeats_rows_with_period_n():
    table = torch.randn(5, 3)
    new = tile_table(table, 17)
    assert torch.equal(new[5:10], table) and torch.equal(new[15:], table[:2])


@pytest.mark.parametrize("fn", [interpolate_table, tile_table])
def test_resizing_errors(fn):
    with pytest.raises(ValueError, match="2-D"):
        fn(torch.zeros(4), 8)
    with pytest.raises(ValueError, match="floating"):
        fn(torch.zeros(4, 2, dtype=torch.long), 8)
    with pytest.raises(ValueError, match="new_len must be at least 1"):
        fn(torch.zeros(4, 2), 0)
    with pytest.raises(ValueError, match="new_len must be a whole number"):
        fn(torch.zeros(4, 2), 8.0)


def test_unknown_interpolation_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        interpolate_table(torch.zeros(4, 2), 8, mode="cubic")


def test_resizing_on_the_meta_device():
    table = torch.zeros(16, 4, device="meta")
    assert interpolate_table(table, 64).shape == (64, 4)
    assert tile_table(table, 64).device.type == "meta"


def test_a_start_past_the_table_is_explained_on_the_meta_device_too():
    # On an accelerator positions are not read (a host sync), but the start is a host int: the
    # last row a sequence needs is still known from shapes, as on the CPU.
    for device in ("cpu", "meta"):
        model = TinyTransformer(50, 2, d_model=16, position=RandomStartPositions(16, 16, start=10))
        model = model.to(device).eval()
        model(torch.zeros(1, 6, dtype=torch.long, device=device))             # rows 10..15: fits
        needs_16 = r"positions 0\.\.15 \(max_len=16\).*needs position 16"
        with pytest.raises(ValueError, match=needs_16):
            model(torch.zeros(1, 7, dtype=torch.long, device=device))
