"""Chapter 08's experiment (course_lib.grids): the grid task's labels, the positions each scheme
receives (raster index or (row, col), in ViT's patch order), the cached and parallel training, and
bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from transformers import ViTConfig
from transformers.models.vit.modeling_vit import ViTPatchEmbeddings

from course_lib import parallel
from course_lib.attention import TinyTransformer
from course_lib.grids import (
    _TRAINED,
    GRID_DIRECTIONS,
    GRID_EXPERIMENT,
    GRID_SCHEMES,
    GridCopyTask,
    GridExperiment,
    GridTransformer,
    MixedGridSizes,
    grid_accuracy,
    grid_accuracy_by_patch,
    grid_scheme,
    similarity_by_raster_step,
    start_grid_models,
    train_grid_model,
    train_grid_models,
)
from course_lib.learned import LearnedPositions
from course_lib.schemes import PositionScheme
from course_lib.tasks import IGNORE_INDEX
from course_lib.training import seed_everything, train

QUICK = replace(GRID_EXPERIMENT, steps=6, batch_size=4)
JOBS = [("rope_2d", 0), ("learned", 1), ("sinusoidal_2d", 2)]


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _labels_by_loop(tokens, step):
    dr, dc = step
    batch, height, width = tokens.shape
    labels = torch.full_like(tokens, IGNORE_INDEX)
    for b in range(batch):
        for r in range(height):
            for c in range(width):
                if 0 <= r + dr < height and 0 <= c + dc < width:
                    labels[b, r, c] = tokens[b, r + dr, c + dc]
    return labels


@pytest.mark.parametrize("direction", list(GRID_DIRECTIONS))
@pytest.mark.parametrize("size", [(6, 6), (3, 7), (1, 5), (5, 1), (1, 1)])
def test_each_label_is_the_token_of_the_neighbour_in_that_direction(direction, size):
    task = GridCopyTask(direction)
    tokens, labels = task.sample(3, torch.Generator().manual_seed(0), *size)
    assert tokens.shape == labels.shape == (3, *size) and tokens.dtype == torch.int64
    assert torch.equal(labels, _labels_by_loop(tokens, GRID_DIRECTIONS[direction]))


def test_above_is_one_row_up_and_row_zero_has_no_label():
    tokens = torch.arange(12).view(1, 3, 4)
    labels = GridCopyTask("above").labels_for(tokens)
    assert (labels[0, 0] == IGNORE_INDEX).all()
    assert torch.equal(labels[0, 1:], tokens[0, :-1])


def test_an_experiment_keeps_its_sizes_as_tuples_so_it_can_be_a_cache_key():
    config = GridExperiment(train_sizes=[[4, 4], [4, 8]], test_sizes=[[6, 6]])
    assert config.train_sizes == ((4, 4), (4, 8)) and hash(config) == hash(
        GridExperiment(train_sizes=((4, 4), (4, 8)), test_sizes=((6, 6),)))


def test_samples_follow_the_generator_and_default_to_the_training_shape():
    task = GridCopyTask(height=4, width=5, vocab_size=7)
    a = task.sample(8, torch.Generator().manual_seed(3))
    b = task.sample(8, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and a[0].shape == (8, 4, 5)
    assert 0 <= int(a[0].min()) and int(a[0].max()) < 7
    assert task.sample(2, height=2)[0].shape == (2, 2, 5)


def test_mixed_sizes_draw_one_shape_per_batch_from_the_list():
    mixed = MixedGridSizes(GridCopyTask(), ((4, 4), (4, 8), (8, 4)))
    generator = torch.Generator().manual_seed(0)
    shapes = {mixed.sample(2, generator)[0].shape[1:] for _ in range(40)}
    assert shapes == {(4, 4), (4, 8), (8, 4)}
    assert mixed.sample(2, generator, height=3, width=3)[0].shape == (2, 3, 3)


def test_the_patch_order_is_vits():
    # HF ViT turns an image into patches with conv(...).flatten(2): token i is patch (i // W, i % W)
    height, width, patch = 3, 4, 2
    config = ViTConfig(image_size=(height * patch, width * patch), patch_size=patch,
                       num_channels=1, hidden_size=2)
    embed = ViTPatchEmbeddings(config)
    with torch.no_grad():
        embed.projection.weight.fill_(1 / patch**2)      # each patch's mean pixel
        embed.projection.bias.zero_()
    rows = torch.arange(height).repeat_interleave(patch)[:, None].expand(-1, width * patch)
    cols = torch.arange(width).repeat_interleave(patch)[None, :].expand(height * patch, -1)
    image = torch.stack([rows, cols]).float()            # channel 0: the row, 1: the column
    seen = torch.cat([embed(image[i][None, None])[0, :, :1] for i in range(2)], dim=1)
    model = GridTransformer(4, 4, position=grid_scheme("rope_2d", replace(QUICK, num_heads=1)))
    assert torch.equal(model.positions_for(height, width), seen.round().long())


class _Recorder(PositionScheme):
    def __init__(self, grid: bool):
        super().__init__()
        self.grid_positions = grid
        self.seen = []

    def embed(self, x, positions):
        self.seen.append(positions)
        return x


@pytest.mark.parametrize("grid", [False, True])
def test_a_scheme_gets_the_raster_index_or_row_and_column(grid):
    model = GridTransformer(5, 5, position=_Recorder(grid))
    model(torch.zeros(2, 3, 4, dtype=torch.long))
    (positions,) = model.position.seen
    if grid:
        assert torch.equal(positions, torch.tensor([[r, c] for r in range(3) for c in range(4)]))
    else:
        assert torch.equal(positions, torch.arange(12))


@pytest.mark.parametrize("name", ["learned", "sinusoidal", "rope", "none"])
def test_a_1d_scheme_reads_the_grid_as_its_raster_sequence(name):
    # the grid model is TinyTransformer on tokens.flatten(1), row by row
    torch.manual_seed(0)
    grid = GridTransformer(16, 16, 32, 2, 2, position=grid_scheme(name))
    flat = TinyTransformer(16, 16, 32, 2, 2, position=grid_scheme(name), pool=None)
    flat.load_state_dict(grid.state_dict())
    tokens = torch.randint(16, (3, 4, 5))
    assert torch.allclose(grid(tokens), flat(tokens.flatten(1)).view(3, 4, 5, 16))


def test_a_1d_scheme_cannot_tell_4_by_8_from_8_by_4():
    model = GridTransformer(16, 16, position=grid_scheme("learned"))
    tokens = torch.randint(16, (2, 32))
    assert torch.equal(model(tokens.view(2, 4, 8)).flatten(1, 2),
                       model(tokens.view(2, 8, 4)).flatten(1, 2))


@pytest.mark.parametrize("name", list(GRID_SCHEMES))
def test_every_scheme_gives_logits_per_patch_at_any_shape(name):
    model = GridTransformer(16, 16, 32, 2, position=grid_scheme(name))
    for size in [(6, 6), (2, 9), (12, 12)]:
        assert model(torch.randint(16, (2, *size))).shape == (2, *size, 16)
    pooled = GridTransformer(16, 3, 32, 2, position=grid_scheme(name), pool="mean")
    assert pooled(torch.randint(16, (2, 3, 3))).shape == (2, 3)


def test_the_helper_trains_exactly_the_recipe():
    seed_everything(1)
    model = GridTransformer(16, 16, 32, 2, 1, position=LearnedPositions(144, 32))
    losses = train(model, QUICK.task(), steps=6, batch_size=4, lr=1e-2, seed=1, progress=False)
    trained, trained_losses = train_grid_model("learned", 1, QUICK, return_losses=True)
    assert trained_losses == losses
    assert torch.equal(_weights(trained), _weights(model))


def test_a_second_call_reuses_the_training_but_returns_its_own_copy():
    first = train_grid_model("rope_2d", 0, QUICK)
    with torch.no_grad():
        first.head.weight.zero_()
    second = train_grid_model("rope_2d", 0, QUICK)
    assert second.head.weight.abs().sum() > 0 and not second.training
    assert ("rope_2d", 0, QUICK) in _TRAINED._results


def _train_each_alone(monkeypatch, jobs, config):
    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, "1")
    _TRAINED.clear()
    alone = [train_grid_model(*job) if len(job) == 3 else train_grid_model(*job, config=config)
             for job in jobs]
    monkeypatch.delenv(parallel.SERIAL_ENVIRONMENT_VARIABLE)
    _TRAINED.clear()
    return alone


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_side_by_side_and_ahead_give_the_models_of_one_by_one(monkeypatch):
    mixed = replace(QUICK, train_sizes=((4, 4), (4, 8)))
    jobs = JOBS + [("rope", 0, mixed)]
    alone = _train_each_alone(monkeypatch, jobs, QUICK)
    together = train_grid_models(jobs, QUICK)
    for job, a, b in zip(jobs, alone, together):
        assert torch.equal(_weights(a), _weights(b)), job
    _TRAINED.clear()
    assert start_grid_models(jobs, QUICK) == len(jobs)
    later = train_grid_models(jobs[::-1], QUICK)[::-1]
    for job, a, b in zip(jobs, alone, later):
        assert torch.equal(_weights(a), _weights(b)), job


def test_similarity_by_raster_step_splits_pairs_at_a_row_break():
    height, width = 4, 5
    table = torch.randn(height * width, 8, generator=torch.Generator().manual_seed(0))
    same, across = similarity_by_raster_step(table, height, width)
    cos = torch.nn.functional.cosine_similarity
    for step in range(1, width):
        pairs = [(i, i + step) for i in range(height * width - step)]
        split = [[cos(table[i], table[j], dim=0) for i, j in pairs
                  if (i // width == j // width) == one_row] for one_row in (True, False)]
        assert torch.allclose(same[step - 1], torch.stack(split[0]).mean(), atol=1e-6)
        assert torch.allclose(across[step - 1], torch.stack(split[1]).mean(), atol=1e-6)
    rows_only = torch.nn.functional.one_hot(torch.arange(height * width) // width).float()
    same, across = similarity_by_raster_step(rows_only, height, width)
    assert (same == 1).all() and (across == 0).all(), "a table of rows: 1 in a row, 0 across"


class _Oracle(torch.nn.Module):
    """Predicts the token above (row 0: token 0): every scored patch right."""

    def forward(self, tokens):
        above = torch.cat([torch.zeros_like(tokens[:, :1]), tokens[:, :-1]], dim=1)
        return torch.nn.functional.one_hot(above, 16).float()


def test_accuracy_counts_only_patches_with_a_neighbour():
    scores = grid_accuracy(_Oracle(), GRID_EXPERIMENT, [(6, 6), (2, 9)], seed=0)
    assert scores == {(6, 6): 1.0, (2, 9): 1.0}
    task = GridCopyTask()
    tokens, labels = task.sample(4, torch.Generator().manual_seed(0), 3, 4)
    by_patch = grid_accuracy_by_patch(_Oracle(), tokens, labels)
    assert by_patch.shape == (3, 4) and by_patch[0].isnan().all() and (by_patch[1:] == 1).all()


def test_accuracy_uses_the_same_grids_for_every_model():
    model = GridTransformer(16, 16, position=grid_scheme("sinusoidal_2d"))
    assert grid_accuracy(model, GRID_EXPERIMENT, [(5, 5)], 3) == grid_accuracy(
        model, GRID_EXPERIMENT.task(), [(5, 5)], 3)


@pytest.mark.parametrize("make, match", [
    (lambda: GridCopyTask("up"), "direction"),
    (lambda: GridCopyTask(width=0), "width"),
    (lambda: GridCopyTask(vocab_size=1), "vocab_size"),
    (lambda: GridCopyTask().sample(0), "batch_size"),
    (lambda: GridCopyTask().labels_for(torch.zeros(2, 3)), "height, width"),
    (lambda: MixedGridSizes(GridCopyTask(), ()), "sizes"),
    (lambda: MixedGridSizes(GridCopyTask(), ((4, 0),)), "width"),
    (lambda: GridExperiment(test_sizes=((13, 12),)), "max_cells"),
    (lambda: GridExperiment(direction="north"), "direction"),
    (lambda: grid_scheme("rope2d"), "scheme"),
    (lambda: GridTransformer(16, 16)(torch.zeros(2, 9, dtype=torch.long)), "height, width"),
    (lambda: GridTransformer(16, 16)(torch.zeros(2, 3, 3)), "integer"),
    (lambda: train_grid_model("rope_2d", -1, QUICK), "seed"),
    (lambda: train_grid_model("rope_2d", 0, "config"), "GridExperiment"),
    (lambda: train_grid_models([("rope_2d",)], QUICK), "job"),
    (lambda: start_grid_models([("sinusoids", 0)], QUICK), "scheme"),
    (lambda: grid_accuracy(GridTransformer(16, 16), "task", [(3, 3)]), "GridCopyTask"),
    (lambda: grid_accuracy(GridTransformer(16, 16), QUICK, [(3,)]), "height, width"),
    (lambda: grid_accuracy(GridTransformer(16, 16), QUICK, [(1, 4)]), "IGNORE_INDEX"),
    (lambda: GridExperiment(train_sizes=((4, 0),)), "width"),
    (lambda: GridExperiment(test_sizes=((4,),)), "pairs"),
    (lambda: similarity_by_raster_step(torch.randn(6, 4), 1, 6), "2 rows"),
])
def test_bad_input_is_refused_with_a_readable_message(make, match):
    with pytest.raises(ValueError, match=match):
        make()
