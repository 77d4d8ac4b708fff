"""Chapter 03: the sinusoidal table, cross-checked against HF transformers' copies of the published
code."""

import math

import pytest
import torch

from course_lib import (
    SinusoidalPositions,
    TinyTransformer,
    half_split_permutation,
    offset_rotation,
    sinusoid_frequencies,
    sinusoidal_table,
    tensor2tensor_sinusoidal_table,
)
from course_lib.rope import RotaryPositions
from course_lib.sinusoidal import convert_layout, four_term_logits, permute_residual_stream


@pytest.mark.parametrize("n_pos, dim", [(1, 2), (50, 16), (512, 64), (128, 768)])
def test_interleaved_table_matches_distilbert(n_pos, dim):
    from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings

    reference = create_sinusoidal_embeddings(n_pos, dim, torch.empty(n_pos, dim))
    assert torch.allclose(sinusoidal_table(n_pos, dim), reference, atol=1e-6)


@pytest.mark.parametrize("n_pos, dim", [(50, 16), (512, 64)])
def test_half_split_table_matches_marian(n_pos, dim):
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

    reference = MarianSinusoidalPositionalEmbedding(n_pos, dim).create_weight()
    assert torch.allclose(sinusoidal_table(n_pos, dim, layout="half_split"), reference, atol=1e-6)


@pytest.mark.parametrize("n_pos, dim", [(50, 16), (1500, 384)])
def test_tensor2tensor_table_matches_whisper_and_fairseq_port(n_pos, dim):
    from transformers.models.m2m_100.modeling_m2m_100 import M2M100SinusoidalPositionalEmbedding
    from transformers.models.whisper.modeling_whisper import sinusoids

    ours = tensor2tensor_sinusoidal_table(n_pos, dim)
    # float32 angles in the reference
    assert torch.allclose(ours, sinusoids(n_pos, dim), atol=1e-4)
    # no padding_idx: rows from 0
    fairseq = M2M100SinusoidalPositionalEmbedding.get_embedding(n_pos, dim)
    assert torch.allclose(ours, fairseq, atol=1e-4)
    # ...and it is *not* the paper's table: the exponents differ.
    assert not torch.allclose(ours, sinusoidal_table(n_pos, dim, layout="half_split"), atol=1e-2)


def test_half_split_is_the_interleaved_table_with_features_permuted():
    perm = half_split_permutation(8)
    assert perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert torch.equal(
        sinusoidal_table(100, 8, layout="half_split"), sinusoidal_table(100, 8)[:, perm]
    )


def test_frequencies_span_one_to_nearly_one_over_base():
    w = sinusoid_frequencies(512)
    assert w.shape == (256,) and w[0] == 1 and torch.all(w.diff() < 0)
    assert w[-1].item() == pytest.approx(10000 ** (-510 / 512))
    assert 2 * math.pi / w[-1].item() < 10000 * 2 * math.pi


def test_rows_are_bounded_and_all_have_norm_sqrt_half_d():
    table = sinusoidal_table(10_000, 64)
    assert table.abs().max() <= 1
    assert torch.allclose(table.norm(dim=-1), torch.full((10_000,), math.sqrt(32)), atol=1e-4)


def test_rows_are_distinct_over_ten_thousand_positions():
    table = sinusoidal_table(10_000, 64)
    nearest = torch.cdist(table[:2000], table).topk(2, largest=False).values[:, 1]
    assert nearest.min() > 1e-3


def test_dot_product_depends_only_on_the_offset_and_not_its_sign():
    table = sinusoidal_table(300, 32).double()
    for k in (1, 5, 40):
        dots = (table[:200] * table[k:200 + k]).sum(-1)
        assert torch.allclose(dots, torch.full_like(dots, dots[0].item()), atol=1e-5)
        expected = torch.cos(k * sinusoid_frequencies(32)).sum()
        assert dots[0].item() == pytest.approx(expected.item(), abs=1e-5)
        back = (table[100] * table[100 - k]).sum()
        assert back.item() == pytest.approx(dots[0].item(), abs=1e-5)


@pytest.mark.parametrize("k", [1, 7, -3, 250])
def test_offset_rotation_moves_every_position_by_k(k):
    table = sinusoidal_table(600, 16)
    m = offset_rotation(k, 16)
    start = max(0, -k)
    moved = table[start:start + 100] @ m.T
    assert torch.allclose(moved, table[start + k:start + k + 100], atol=2e-5)
    # a rotation: orthogonal
    assert torch.allclose(m @ m.T, torch.eye(16), atol=1e-6)
    assert torch.allclose(
        offset_rotation(k, 16) @ offset_rotation(2, 16), offset_rotation(k + 2, 16), atol=1e-5
    )


def test_scheme_adds_or_concatenates_and_scales_tokens():
    x = torch.ones(2, 5, 8)
    added = SinusoidalPositions(8, token_scale=2.0).embed(x, torch.arange(5))
    assert torch.allclose(added[1], 2.0 + sinusoidal_table(5, 8))
    joined = SinusoidalPositions(4, combine="concat").embed(x, torch.arange(5))
    assert joined.shape == (2, 5, 12) and torch.equal(joined[0, :, 8:], sinusoidal_table(5, 4))
    model = TinyTransformer(10, 3, d_model=16, position=SinusoidalPositions(8, combine="concat"))
    assert model.token_embedding.embedding_dim == 8
    assert model(torch.zeros(2, 7, dtype=torch.long)).shape == (2, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sinusoidal_table(0, 8), "num_positions must be at least 1"),
        (lambda: sinusoidal_table(4, 7), "d_model must be even"),
        (lambda: sinusoidal_table(4, 8.0), "d_model must be a whole number"),
        (lambda: sinusoidal_table(4, 8, base=0), "base must be a positive number"),
        (
            lambda: sinusoidal_table(4, 8, layout="split"),
            "layout must be one of 'interleaved', 'half_split'",
        ),
        (lambda: sinusoidal_table(4, 8, layout="halves"), "old name .* use layout='half_split'"),
        (lambda: SinusoidalPositions(8, layout="halves"), "use layout='half_split'"),
        (lambda: sinusoid_frequencies(7), "d_model must be even"),
        (lambda: tensor2tensor_sinusoidal_table(4, 2), "d_model must be at least 4"),
        (lambda: half_split_permutation(5), "d_model must be even"),
        (lambda: offset_rotation(1.5, 8), "offset must be a whole number"),
        (lambda: SinusoidalPositions(8, combine="sum"), "combine must be one of 'add', 'concat'"),
        (
            lambda: SinusoidalPositions(8).embed(torch.zeros(1, 3, 6), torch.arange(3)),
            "table width \\(8\\)",
        ),
        (lambda: SinusoidalPositions(8, token_scale=-1), "token_scale must be a positive number"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _model_with_random_norms(layout="interleaved", causal=False, seed=0):
    """A 2-layer, 2-head TinyTransformer with an added table; every LayerNorm γ, β randomised."""
    torch.manual_seed(seed)
    model = TinyTransformer(11, 11, d_model=16, num_heads=2, num_layers=2, causal=causal, pool=None,
                            position=SinusoidalPositions(16, layout=layout))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_()
    return model.eval()


@pytest.mark.parametrize("causal", [False, True])
def test_converted_model_adds_marians_table_and_gives_the_same_outputs(causal):
    from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding

    model = _model_with_random_norms(causal=causal)
    converted = convert_layout(model, "half_split")
    tokens = torch.randint(11, (4, 9), generator=torch.Generator().manual_seed(1))
    zeros = torch.zeros(1, 9, 16)
    # the tables the two models add are the public references' (paper layout, Marian's layout)
    distilbert = create_sinusoidal_embeddings(9, 16, torch.empty(9, 16))
    assert torch.allclose(model.position.embed(zeros, torch.arange(9))[0], distilbert, atol=1e-6)
    marian = MarianSinusoidalPositionalEmbedding(9, 16).create_weight()
    assert torch.allclose(converted.position.embed(zeros, torch.arange(9))[0], marian, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(converted(tokens), model(tokens), atol=1e-5)
        back = convert_layout(converted, "interleaved")
        assert torch.allclose(back(tokens), model(tokens), atol=1e-5)
    assert model.position.layout == "interleaved"          # the original is left alone


def test_permuting_the_residual_stream_permutes_every_hidden_state():
    model = _model_with_random_norms()
    order = torch.randperm(16, generator=torch.Generator().manual_seed(2))
    permuted = permute_residual_stream(model, order)
    tokens = torch.randint(11, (3, 7), generator=torch.Generator().manual_seed(3))
    seen = {}
    for name, m in (("old", model), ("new", permuted)):
        for i, block in enumerate(m.blocks):
            block.register_forward_hook(
                lambda mod, inp, out, key=(name, i): seen.__setitem__(key, out))
    # the new model gets the table reordered too: same scheme, its output's features reordered
    permuted.position = _ReorderedTable(model.position, order)
    with torch.no_grad():
        assert torch.allclose(permuted(tokens), model(tokens), atol=1e-5)
    for i in range(2):
        assert torch.allclose(seen["new", i], seen["old", i][..., order], atol=1e-5)


class _ReorderedTable(SinusoidalPositions):
    def __init__(self, scheme, order):
        super().__init__(scheme.dim)
        self.inner, self.order = scheme, order

    def embed(self, x, positions):
        table = self.inner.embed(torch.zeros_like(x), positions)[..., self.order]
        return x + table


def test_reordering_only_the_first_layer_that_reads_the_stream_is_not_a_conversion():
    model = _model_with_random_norms()
    perm = half_split_permutation(16)
    tokens = torch.randint(11, (4, 9), generator=torch.Generator().manual_seed(1))
    naive = _model_with_random_norms(seed=1)
    naive.load_state_dict(model.state_dict())
    naive.position = SinusoidalPositions(16, layout="half_split")
    with torch.no_grad():                        # only the first qkv's input columns reordered
        naive.blocks[0].attn.qkv.weight.copy_(model.blocks[0].attn.qkv.weight[:, perm])
        assert (naive(tokens) - model(tokens)).abs().max() > 0.1
        full = convert_layout(model, "half_split")
        assert torch.allclose(full(tokens), model(tokens), atol=1e-5)


def test_four_terms_sum_to_each_layers_logits():
    model = _model_with_random_norms()
    tokens = torch.randint(11, (3, 12), generator=torch.Generator().manual_seed(4))
    for layer in range(2):
        terms = four_term_logits(model, tokens, layer=layer)
        assert set(terms) == {"content-content", "content-position", "position-content",
                              "position-position"}
        x = model.position.embed(model.token_embedding(tokens), torch.arange(12))
        with torch.no_grad():
            for block in model.blocks[:layer]:
                x = block(x, model.position, torch.arange(12))
            block = model.blocks[layer]
            logits = block.attn.logits(block.ln_attn(x))
        assert logits.shape == (3, 2, 12, 12)
        assert torch.allclose(sum(terms.values()), logits, atol=1e-5)


def test_four_terms_without_positions_are_all_content():
    torch.manual_seed(0)
    model = TinyTransformer(11, 11, d_model=16, num_heads=2, pool=None)
    tokens = torch.randint(11, (2, 5))
    terms = four_term_logits(model, tokens)
    for name in ("content-position", "position-content", "position-position"):
        assert terms[name].abs().max() == 0
    with torch.no_grad():
        block = model.blocks[0]
        expected = block.attn.logits(block.ln_attn(model.token_embedding(tokens)))
    assert torch.allclose(terms["content-content"], expected, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: permute_residual_stream(torch.nn.Linear(2, 2), [0, 1]), "a TinyTransformer"),
        (lambda: permute_residual_stream(_model_with_random_norms(), [0, 1]), "each of 0 .. 15"),
        (lambda: permute_residual_stream(_model_with_random_norms(), [0] * 16), "each of 0 .. 15"),
        (
            lambda: permute_residual_stream(
                TinyTransformer(5, 2, d_model=8, position=SinusoidalPositions(4, combine="concat")),
                list(range(8))),
            "adds a fixed vector",
        ),
        (
            lambda: convert_layout(TinyTransformer(5, 2, d_model=8), "half_split"),
            "added sinusoidal table",
        ),
        (lambda: convert_layout(_model_with_random_norms(), "halves"), "use layout='half_split'"),
        (
            lambda: four_term_logits(
                TinyTransformer(5, 2, d_model=8, position=RotaryPositions(8)),
                torch.zeros(1, 3, dtype=torch.long)),
            "no concatenation, rotation or bias",
        ),
        (
            lambda: four_term_logits(_model_with_random_norms(),
                                     torch.zeros(1, 3, dtype=torch.long), layer=2),
            "layer must be below the model's 2 layers",
        ),
    ],
)
def test_layout_conversion_and_four_terms_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
