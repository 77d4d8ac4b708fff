"""Chapter 08: positions in 2-D, cross-checked against HF transformers' vision models: MAE's 2-D
sinusoidal table (ViTMAE), Qwen2-VL's axial vision RoPE, Pixtral's, Llama 4's and SAM 2's variants
of it, and ViT's resizing of a learned patch table (``interpolate_pos_encoding``). MoCo v3's table
and Mistral's reference Pixtral, which HF does not ship, are checked against their formulas as
written in the original repositories (each test names the file)."""

import importlib
import pkgutil

import numpy as np
import pytest
import torch

import course_lib
from course_lib.attention import SelfAttention, scaled_dot_product_attention
from course_lib.positions_2d import (
    AxialRotaryPositions,
    Sinusoidal2DPositions,
    apply_rope_2d,
    axial_rope_angles,
    interpolate_table_2d,
    patch_grid,
    position_similarity_maps,
    sinusoidal_table_2d,
)
from course_lib.rope import rope_inv_freq
from course_lib.schemes import PositionScheme
from course_lib.sinusoidal import half_split_permutation


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- the grid ------------------------------------------------------------------------------------


def test_patch_grid_is_the_raster_order_of_hf_vision_models():
    from transformers.vision_utils import get_vision_position_ids

    grid = patch_grid(3, 5)
    assert grid.dtype == torch.int64 and grid.shape == (15, 2)
    assert grid[7].tolist() == [1, 2]                          # token r·w + c is (r, c)
    # Qwen2-VL's positions for one 3×5 image without patch merging
    assert torch.equal(grid, get_vision_position_ids(torch.tensor([[1, 3, 5]]), 1))
    # ... but with its default merge of 2×2 patches, its order is 2×2-block-major, not raster
    merged = get_vision_position_ids(torch.tensor([[1, 4, 6]]), 2)
    assert merged[:7].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2]]
    assert sorted(merged.tolist()) == patch_grid(4, 6).tolist()    # the same patches, reordered


# --- 1. MAE's 2-D sinusoidal table ---------------------------------------------------------------


def _mae_embeddings(grid, d_model):
    from transformers import ViTMAEConfig
    from transformers.models.vit_mae.modeling_vit_mae import ViTMAEEmbeddings

    config = ViTMAEConfig(hidden_size=d_model, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=2 * d_model, image_size=2 * grid, patch_size=2)
    embeddings = ViTMAEEmbeddings(config)
    embeddings.initialize_weights()            # MAE's fixed sin-cos table, CLS row first
    return embeddings.position_embeddings[0].detach()


@pytest.mark.parametrize("grid, d_model", [(4, 16), (3, 8), (7, 32)])
def test_sinusoidal_table_2d_is_the_table_maes_weights_were_trained_with(grid, d_model):
    hf = _mae_embeddings(grid, d_model)
    assert torch.equal(hf[0], torch.zeros(d_model))             # the CLS row, which we drop
    assert torch.equal(sinusoidal_table_2d(grid, grid, d_model), hf[1:])


def test_maes_first_half_encodes_the_column():
    """MAE's meshgrid(grid_w, grid_h) quirk, read off HF's table itself: patches in the same
    column share the first half of the features, patches in the same row the second half."""
    hf = _mae_embeddings(4, 16)[1:].reshape(4, 4, 16)           # (row, col, d)
    assert torch.equal(hf[:, :, :8], hf[:1, :, :8].expand(4, 4, 8))   # first half: column only
    assert torch.equal(hf[:, :, 8:], hf[:, :1, 8:].expand(4, 4, 8))   # second half: row only
    assert not torch.equal(hf[0, 1, :8], hf[0, 0, :8])


@pytest.mark.parametrize("height, width, d_model, base", [(3, 5, 16, 10000.0), (5, 2, 8, 10000.0),
                                                          (1, 6, 12, 100.0), (4, 4, 16, 10.0)])
def test_sinusoidal_table_2d_is_hfs_row_first_builder_with_its_halves_swapped(height, width,
                                                                            d_model, base):
    """HF's builder takes height and width (non-square works) and gives the canonical
    [row ‖ column]; MAE's order (ours) is its halves swapped, as ViTMAEEmbeddings does."""
    from transformers.models.vit_mae.modeling_vit_mae import (
        build_2d_sinusoidal_position_embedding,
    )

    hf = build_2d_sinusoidal_position_embedding(height, width, d_model, temperature=base)
    half = d_model // 2
    assert torch.equal(sinusoidal_table_2d(height, width, d_model, base),
                       torch.cat((hf[:, half:], hf[:, :half]), dim=-1))
    if height > 1 and width > 1:
        assert not torch.allclose(sinusoidal_table_2d(height, width, d_model, base), hf)


def test_moco_v3s_table_is_ours_with_its_halves_swapped_on_a_square_grid():
    """MoCo v3 (facebookresearch/moco-v3, vits.py, ``build_2d_sincos_position_embedding``), its
    formula written out here in numpy: ``torch.meshgrid(grid_w, grid_h)`` ("ij"), the half built
    from grid_w first. Its rows run column-major (token k gets grid_w = k // h), so on a square
    grid, the only kind it builds, token k's first half encodes the raster row: [row ‖ column]."""
    side, d = 5, 16
    w_index, h_index = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    omega = 10000.0 ** -(np.arange(d // 4) / (d // 4))
    by_w, by_h = (np.outer(index.flatten(), omega) for index in (w_index, h_index))
    moco = np.concatenate([np.sin(by_w), np.cos(by_w), np.sin(by_h), np.cos(by_h)], axis=1)
    ours = sinusoidal_table_2d(side, side, d).numpy()
    row_first = np.concatenate([ours[:, d // 2:], ours[:, :d // 2]], axis=1)
    np.testing.assert_allclose(moco, row_first, rtol=0, atol=1e-6)
    assert not np.allclose(moco, ours, atol=0.1)                  # not MAE's [column ‖ row]


# --- 2. Qwen2-VL's axial RoPE; the two layouts ----------------------------------------------------


@pytest.mark.parametrize("merge", [1, 2])
def test_apply_rope_2d_half_split_is_qwen2_vl_vision_rope(merge):
    """For merge 2, Qwen2-VL orders the patches in 2×2 blocks: we take its own positions."""
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import (
        Qwen2VLVisionRotaryEmbedding,
        apply_rotary_pos_emb_vision,
    )
    from transformers.vision_utils import get_vision_position_ids

    config = Qwen2VLVisionConfig(embed_dim=64, num_heads=4, depth=1, spatial_merge_size=merge)
    rotary = Qwen2VLVisionRotaryEmbedding(config)              # head_dim 16
    assert torch.allclose(rotary.inv_freq.double(), rope_inv_freq(8), rtol=1e-6, atol=0)
    positions = get_vision_position_ids(torch.tensor([[1, 6, 10]]), merge)    # (60, 2)
    q, k = torch.randn(2, 60, 4, 16, generator=gen()).unbind(0)  # Qwen's (seq, heads, head_dim)
    hf_q, hf_k = apply_rotary_pos_emb_vision(q, k, *rotary(q, positions))
    ours = apply_rope_2d(torch.stack((q, k)).transpose(1, 2), positions).transpose(1, 2)
    # HF turns by float32 angles, we by float64 ones: the same up to float32 rounding
    torch.testing.assert_close(ours, torch.stack((hf_q, hf_k)), rtol=0, atol=2e-6)


@pytest.mark.parametrize("layout", ["half_split", "interleaved"])
def test_apply_rope_2d_with_one_grid_per_image_is_a_loop_over_the_images(layout):
    """positions (batch, seq, 2): image i is turned by its own grid, on x (batch, seq, d),
    (batch, heads, seq, d) and (batch, groups, heads, seq, d), as a loop over images would."""
    from transformers.vision_utils import get_vision_position_ids

    grids = [(4, 6), (6, 4), (2, 12)]     # 24 patches each, in Qwen2-VL's 2×2-block-major order
    positions = torch.stack([get_vision_position_ids(torch.tensor([[1, h, w]]), 2)
                             for h, w in grids])                   # (3, 24, 2)
    for shape in [(3, 24, 16), (3, 4, 24, 16), (3, 2, 4, 24, 16)]:
        x = torch.randn(shape, dtype=torch.float64, generator=gen())
        batched = apply_rope_2d(x, positions, layout=layout)
        for image in range(3):
            alone = apply_rope_2d(x[image], positions[image], layout=layout)
            torch.testing.assert_close(batched[image], alone, rtol=0, atol=1e-12)
        # positions (1, seq, 2) share one grid, as (seq, 2) does
        torch.testing.assert_close(apply_rope_2d(x, positions[:1], layout=layout),
                                   apply_rope_2d(x, positions[0], layout=layout), rtol=0, atol=0)


def test_apply_rope_2d_with_one_grid_per_image_is_qwen2_vl_image_by_image():
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import (
        Qwen2VLVisionRotaryEmbedding,
        apply_rotary_pos_emb_vision,
    )
    from transformers.vision_utils import get_vision_position_ids

    rotary = Qwen2VLVisionRotaryEmbedding(Qwen2VLVisionConfig(embed_dim=64, num_heads=4, depth=1))
    grids = [(4, 6), (6, 4)]
    positions = torch.stack([get_vision_position_ids(torch.tensor([[1, h, w]]), 2)
                             for h, w in grids])                   # (2, 24, 2)
    x = torch.randn(2, 4, 24, 16, generator=gen())                 # (batch, heads, seq, head_dim)
    ours = apply_rope_2d(x, positions)
    for image in range(2):
        q = x[image].transpose(0, 1)                               # Qwen's (seq, heads, head_dim)
        hf = apply_rotary_pos_emb_vision(q, q, *rotary(q, positions[image]))[0]
        torch.testing.assert_close(ours[image], hf.transpose(0, 1), rtol=0, atol=2e-6)


def test_interleaved_is_half_split_up_to_the_pair_permutation_exactly():
    x = torch.randn(2, 3, 12, 16, generator=gen())
    positions = patch_grid(3, 4) * 3 - 2                        # positions need not start at 0
    perm = half_split_permutation(16)
    assert torch.equal(apply_rope_2d(x[..., perm], positions, layout="half_split"),
                       apply_rope_2d(x, positions, layout="interleaved")[..., perm])


def test_axial_rope_angles_turn_the_first_quarter_by_the_row_the_second_by_the_column():
    theta = rope_inv_freq(8, 100.0)                              # head_dim 16: 4 pairs per axis
    angles = axial_rope_angles(torch.tensor([[[2, 5]], [[0, 1]]]), 16, 100.0)  # (batch 2, seq 1)
    assert angles.shape == (2, 1, 8) and angles.dtype == torch.float64
    assert torch.equal(angles[0, 0], torch.cat((2 * theta, 5 * theta)))
    assert torch.equal(angles[1, 0], torch.cat((0 * theta, 1 * theta)))


# --- 3. Pixtral and Llama 4 -----------------------------------------------------------------------


def _pixtral(head_dim=16, heads=4, base=10000.0):
    from transformers import PixtralVisionConfig
    from transformers.models.pixtral.modeling_pixtral import PixtralVisionRotaryEmbedding

    config = PixtralVisionConfig(hidden_size=head_dim * heads, num_attention_heads=heads,
                                 rope_parameters={"rope_type": "axial", "rope_theta": base})
    return PixtralVisionRotaryEmbedding(config)


@pytest.mark.parametrize("head_dim, base", [(16, 10000.0), (32, 10000.0), (16, 100.0)])
def test_pixtral_rows_use_our_frequencies_its_columns_the_odd_ones_in_between(head_dim, base):
    """Pixtral splits the head_dim table θ^(d)_i: even i for rows, odd i for columns. The even
    ones are exactly our θ_j; the odd ones are ours times base^(−2/head_dim)."""
    pixtral = _pixtral(head_dim, base=base).inv_freq.double()    # [rows' (d/4) ‖ columns' (d/4)]
    ours = rope_inv_freq(head_dim // 2, base)
    quarter = head_dim // 4
    torch.testing.assert_close(pixtral[:quarter], ours, rtol=1e-6, atol=0)
    torch.testing.assert_close(pixtral[quarter:], ours * base ** (-2 / head_dim), rtol=1e-6,
                               atol=0)
    rows, cols = pixtral[:quarter], pixtral[quarter:]
    assert (cols < rows).all() and (cols[:-1] > rows[1:]).all()   # each between two row clocks


def test_pixtral_is_ours_with_columns_scaled_by_base_to_the_minus_2_over_head_dim():
    from transformers.models.pixtral.modeling_pixtral import apply_rotary_pos_emb

    positions = patch_grid(6, 4)
    x = torch.randn(1, 4, 24, 16, generator=gen())               # (batch, heads, seq, head_dim)
    hf = apply_rotary_pos_emb(x, x, *_pixtral()(x, positions), unsqueeze_dim=0)[0]
    scaled = positions * torch.tensor([1.0, 10000.0 ** (-2 / 16)], dtype=torch.float64)
    torch.testing.assert_close(apply_rope_2d(x, scaled), hf, rtol=0, atol=2e-6)
    # at the integer positions, our rotation is not Pixtral's
    assert (apply_rope_2d(x, positions) - hf).abs().max() > 1.0


def test_mistrals_reference_pixtral_is_hfs_with_q_and_k_features_permuted():
    """Mistral's own Pixtral (mistralai/mistral-inference, src/mistral_inference/rope.py,
    ``precompute_freqs_cis_2d``), written out here: complex numbers from consecutive features
    (our "interleaved"), the rows first at the even head_dim frequencies, the columns at the odd
    ones. HF's half-split version equals it once q and k's features are permuted, which HF's
    ``convert_pixtral_weights_to_hf.py`` (``permute_for_rope``) does to the q and k weights."""
    from transformers.models.pixtral.modeling_pixtral import apply_rotary_pos_emb

    positions, d, base = patch_grid(6, 4), 16, 10000.0
    freqs = base ** -(torch.arange(0, d, 2, dtype=torch.float64) / d)    # (d/2,)
    angles = torch.cat((torch.outer(positions[:, 0].double(), freqs[0::2]),
                        torch.outer(positions[:, 1].double(), freqs[1::2])), dim=-1)
    x = torch.randn(1, 4, 24, d, dtype=torch.float64, generator=gen())
    pairs = torch.view_as_complex(x.reshape(1, 4, 24, d // 2, 2))
    mistral = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)
    scaled = positions * torch.tensor([1.0, base ** (-2 / d)], dtype=torch.float64)
    ours = apply_rope_2d(x, scaled, base, layout="interleaved")
    torch.testing.assert_close(ours, mistral, rtol=0, atol=1e-12)
    perm = half_split_permutation(d)
    x_hf = x[..., perm].float()
    hf = apply_rotary_pos_emb(x_hf, x_hf, *_pixtral(d)(x_hf, positions), unsqueeze_dim=0)[0]
    torch.testing.assert_close(hf, mistral[..., perm].float(), rtol=0, atol=2e-6)


@pytest.mark.parametrize("base", [100.0, 10000.0])
def test_sam2_and_rope_vit_axial_rope_is_interleaved_column_first(base):
    """SAM 2's axial RoPE (facebookresearch/sam2, sam2/modeling/position_encoding.py,
    ``compute_axial_cis``, base 10000; HF's ``Sam2VideoVisionRotaryEmbedding``) is RoPE-ViT's
    (naver-ai/rope-vit, models/vit_rope.py, same function, base 100): interleaved pairs, the first
    head_dim/4 turned by x = the column, the rest by y = the row, positions counted from 0."""
    from transformers import Sam2VideoConfig
    from transformers.models.sam2_video.modeling_sam2_video import (
        Sam2VideoVisionRotaryEmbedding,
        apply_rotary_pos_emb_2d,
    )

    config = Sam2VideoConfig(memory_attention_hidden_size=64, memory_attention_downsample_rate=1,
                             memory_attention_num_attention_heads=4,
                             rope_parameters={"rope_type": "axial", "rope_theta": base})
    rotary = Sam2VideoVisionRotaryEmbedding(config)                # head_dim 16
    column_row = patch_grid(3, 5).flip(-1)                         # HF's position_ids: (x, y)
    x = torch.randn(1, 4, 15, 16, generator=gen())
    hf = apply_rotary_pos_emb_2d(x, x, *rotary(x, column_row))[0]
    ours = apply_rope_2d(x, column_row, base, layout="interleaved")
    torch.testing.assert_close(ours, hf, rtol=0, atol=2e-6)


def test_llama4_vision_rope_is_interleaved_column_first_counted_from_one():
    """Llama 4's vision RoPE: interleaved pairs, the first head_dim/4 turned by col + 1, the rest
    by row + 1 (same θ_j as ours), and its CLS token, last in the sequence, not turned at all."""
    from transformers import Llama4VisionConfig
    from transformers.models.llama4.modeling_llama4 import (
        Llama4VisionRotaryEmbedding,
        vision_apply_rotary_emb,
    )

    config = Llama4VisionConfig(hidden_size=64, num_attention_heads=4, image_size=12,
                                patch_size=2, rope_parameters={"rope_type": "default",
                                                               "rope_theta": 10000.0})
    freqs_ci = Llama4VisionRotaryEmbedding(config).freqs_ci        # (36 patches + CLS, 1, 8)
    x = torch.randn(1, 37, 4, 16, generator=gen())                 # (batch, seq, heads, head_dim)
    hf = vision_apply_rotary_emb(x, x, freqs_ci)[0]
    grid = patch_grid(6, 6)
    positions = torch.cat((grid.flip(-1) + 1, torch.zeros(1, 2, dtype=torch.int64)))  # (c+1, r+1)
    ours = apply_rope_2d(x.transpose(1, 2), positions, layout="interleaved").transpose(1, 2)
    torch.testing.assert_close(ours, hf, rtol=0, atol=2e-6)


# --- 4. only the offset counts -------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["half_split", "interleaved"])
def test_rotated_q_dot_k_depends_only_on_the_2d_offset(layout):
    q, k = torch.randn(2, 2, 3, 20, 16, dtype=torch.float64, generator=gen()).unbind(0)
    positions = torch.randint(0, 9, (20, 2), generator=gen(1))
    logits = []
    for shift in ([0, 0], [5, -3], [-7, 11], [2.5, 0.25]):       # the same (a, b) for every token
        where = positions + torch.tensor(shift, dtype=torch.float64)
        logits.append(apply_rope_2d(q, where, layout=layout)
                      @ apply_rope_2d(k, where, layout=layout).transpose(-2, -1))
    for other in logits[1:]:
        torch.testing.assert_close(other, logits[0], rtol=0, atol=1e-12)
    # but the offset's direction counts: swapping rows and columns changes the logits
    swapped = apply_rope_2d(q, positions.flip(-1), layout=layout)
    assert not torch.allclose(swapped @ apply_rope_2d(k, positions.flip(-1), layout=layout)
                              .transpose(-2, -1), logits[0])


def test_2d_sinusoid_dot_product_depends_only_on_the_2d_offset():
    """PE(r, c)·PE(r', c') = Σ_i cos((c − c')ω_i) + Σ_i cos((r − r')ω_i), checked with numpy."""
    height, width, d = 9, 11, 32
    table = sinusoidal_table_2d(height, width, d).double()
    dots = (table @ table.T).reshape(height, width, height, width)
    omega = 10000.0 ** (-np.arange(d // 4) * 2 / (d // 2))
    for (r, c), (r2, c2) in [((0, 0), (3, 4)), ((5, 6), (8, 10)), ((2, 9), (6, 1)),
                             ((8, 1), (4, 5))]:
        expected = np.cos((c - c2) * omega).sum() + np.cos((r - r2) * omega).sum()
        assert dots[r, c, r2, c2].item() == pytest.approx(expected, abs=1e-5)
    # shifting both patches by the same (a, b) keeps the dot product
    torch.testing.assert_close(dots[:-3, :-4, :-3, :-4], dots[3:, 4:, 3:, 4:], rtol=0, atol=1e-5)


# --- 5. resizing a learned table as ViT does ------------------------------------------------------


@pytest.mark.parametrize("image", [(12, 16), (16, 12), (6, 6), (4, 10)])
def test_interpolate_table_2d_is_vits_interpolate_pos_encoding(image):
    from transformers import ViTConfig
    from transformers.models.vit.modeling_vit import ViTEmbeddings

    config = ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=16, image_size=8, patch_size=2)    # a 4×4 patch grid
    embeddings = ViTEmbeddings(config)
    table = torch.randn(1, 17, 8, generator=gen())                 # CLS row, then 16 patches
    with torch.no_grad():
        embeddings.position_embeddings.copy_(table)
    new = (image[0] // 2, image[1] // 2)
    dummy = torch.zeros(1, new[0] * new[1] + 1, 8)                # HF reads only its shape
    hf = embeddings.interpolate_pos_encoding(dummy, *image)[0].detach()
    assert torch.equal(hf[0], table[0, 0])                        # the CLS row is not resized
    torch.testing.assert_close(interpolate_table_2d(table[0, 1:], 4, new), hf[1:],
                               rtol=0, atol=1e-6)


def test_interpolate_table_2d_to_the_same_size_returns_the_table():
    table = torch.randn(12, 5, generator=gen())
    assert torch.equal(interpolate_table_2d(table, (3, 4), (3, 4)), table)


def test_interpolate_table_2d_keeps_dtype_and_reads_non_square_grids():
    table = torch.randn(6, 4, generator=gen())
    grown = interpolate_table_2d(table.to(torch.bfloat16), (2, 3), (4, 6), mode="bilinear")
    assert grown.dtype == torch.bfloat16 and grown.shape == (24, 4)
    nearest = interpolate_table_2d(table, (2, 3), (4, 6), mode="nearest")
    assert torch.equal(nearest.reshape(4, 6, 4)[::2, ::2], table.reshape(2, 3, 4))


# --- 6. similarity maps ---------------------------------------------------------------------------


def test_position_similarity_maps_are_cosines_between_patch_rows():
    table = torch.randn(12, 6, generator=gen())
    table[5] = 0.0                                               # a row with no direction
    maps = position_similarity_maps(table, 3, 4)
    assert maps.shape == (3, 4, 3, 4)
    t = table.numpy().astype(np.float64)
    norms = np.linalg.norm(t, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    cosine = (t @ t.T) / np.outer(safe, safe)
    np.testing.assert_allclose(maps.reshape(12, 12).numpy(), cosine, rtol=0, atol=1e-6)
    assert maps[1, 2, 2, 3].item() == pytest.approx(cosine[6, 11], abs=1e-6)  # (1,2)↔(2,3)


# --- 7. the two schemes ---------------------------------------------------------------------------


def test_sinusoidal_2d_scheme_adds_the_table():
    scheme = Sinusoidal2DPositions(16)
    x = torch.randn(2, 15, 16, generator=gen())
    assert torch.equal(scheme.embed(x, patch_grid(3, 5)), x + sinusoidal_table_2d(3, 5, 16))
    per_image = torch.stack((patch_grid(3, 5), patch_grid(5, 3)))      # one grid per image
    out = scheme.embed(x, per_image)
    assert torch.equal(out[1], x[1] + sinusoidal_table_2d(5, 3, 16))


def test_axial_rotary_scheme_rotates_q_and_k_and_leaves_v():
    torch.manual_seed(0)
    attention = SelfAttention(32, num_heads=2)
    scheme = AxialRotaryPositions(16, base=100.0)
    x, positions = torch.randn(2, 12, 32), patch_grid(3, 4)
    q, k, v = attention.project(x)
    rq, rk = scheme.rotate(q, k, positions)
    assert torch.equal(rq, apply_rope_2d(q, positions, base=100.0))
    assert torch.equal(rk, apply_rope_2d(k, positions, base=100.0))
    out, _ = scaled_dot_product_attention(rq, rk, v)                 # v as projected
    expected = attention.proj(out.transpose(1, 2).reshape(2, 12, 32))
    torch.testing.assert_close(attention(x, scheme, positions), expected, rtol=0, atol=1e-6)


def _all_schemes():
    """Every PositionScheme subclass of course_lib's modules (schemes live at the top level;
    course_lib.grids, chapter 08's experiment, only wraps this module's schemes: not imported)."""
    for info in pkgutil.iter_modules(course_lib.__path__, "course_lib."):
        if not info.ispkg and info.name != "course_lib.grids":
            importlib.import_module(info.name)
    found, todo = set(), [PositionScheme]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("course_lib.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_grid_positions_marks_the_two_2d_schemes_and_no_other():
    assert Sinusoidal2DPositions.grid_positions and AxialRotaryPositions.grid_positions
    assert PositionScheme.grid_positions is False
    others = [s for s in _all_schemes() if s.__module__ != "course_lib.positions_2d"]
    assert len(others) >= 10, sorted(s.__name__ for s in others)      # the chapters before
    assert {s.__name__ for s in others} >= {"NoPositions", "RotaryPositions", "LearnedPositions",
                                            "SinusoidalPositions", "T5RelativeBias"}
    assert [s.__name__ for s in others if s.grid_positions] == []


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtype_is_kept(dtype):
    x = torch.randn(1, 2, 6, 8, generator=gen()).to(dtype)
    positions = patch_grid(2, 3)
    assert apply_rope_2d(x, positions).dtype == dtype
    assert AxialRotaryPositions(8).rotate(x, x, positions)[0].dtype == dtype
    assert Sinusoidal2DPositions(8).embed(x[0], positions).dtype == dtype


def test_everything_runs_on_the_meta_device():
    meta = torch.device("meta")
    positions = patch_grid(3, 4, device=meta)
    assert positions.device == meta
    x = torch.empty(2, 4, 12, 16, device=meta, dtype=torch.bfloat16)
    assert apply_rope_2d(x, positions).device == meta
    assert axial_rope_angles(positions, 16).device == meta
    q, k = AxialRotaryPositions(16).rotate(x, x, positions)
    assert q.device == meta and k.dtype == torch.bfloat16
    out = Sinusoidal2DPositions(16).embed(torch.empty(2, 12, 16, device=meta), positions)
    assert out.device == meta and out.shape == (2, 12, 16)
    table = torch.empty(12, 16, device=meta)
    assert interpolate_table_2d(table, (3, 4), (6, 8)).device == meta
    assert position_similarity_maps(table, 3, 4).shape == (3, 4, 3, 4)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: sinusoidal_table_2d(3, 3, 10), "multiple of 4"),
    (lambda: sinusoidal_table_2d(3, 3, 6), "multiple of 4"),
    (lambda: sinusoidal_table_2d(0, 3, 8), "height must be at least 1"),
    (lambda: Sinusoidal2DPositions(18), "multiple of 4"),
    (lambda: AxialRotaryPositions(6), "multiple of 4"),
    (lambda: AxialRotaryPositions(8, layout="half"), "half_split"),
    (lambda: axial_rope_angles(patch_grid(2, 2), 10), "multiple of 4"),
    (lambda: apply_rope_2d(torch.randn(4, 10), patch_grid(2, 2)), "multiple of 4"),
    (lambda: apply_rope_2d(torch.randn(4, 8), torch.arange(4)), "raster index"),
    (lambda: apply_rope_2d(torch.randn(6, 8), patch_grid(2, 3).T), "positions.T"),
    (lambda: apply_rope_2d(torch.randn(6, 8), torch.zeros(6, 3)), "(seq, 2)"),
    (lambda: apply_rope_2d(torch.randn(6, 8), patch_grid(2, 2)), "6 tokens"),
    (lambda: apply_rope_2d(torch.randn(6, 8), patch_grid(2, 3).bool()), "real numbers"),
    (lambda: apply_rope_2d(torch.arange(48).view(6, 8), patch_grid(2, 3)), "floating-point"),
    (lambda: apply_rope_2d(torch.randn(6, 8), patch_grid(2, 3)[None]), "batch"),
    (lambda: apply_rope_2d(torch.randn(2, 6, 8), patch_grid(2, 3).expand(3, 6, 2)), "batch"),
    (lambda: apply_rope_2d(torch.randn(6, 8), patch_grid(2, 3), layout="neox"), "layout"),
    (lambda: AxialRotaryPositions(8).rotate(*torch.randn(2, 1, 1, 6, 16), patch_grid(2, 3)),
     "head_dim=8"),
    (lambda: Sinusoidal2DPositions(8).embed(torch.randn(1, 6, 16), patch_grid(2, 3)),
     "d_model=8"),
    (lambda: Sinusoidal2DPositions(8).embed(torch.randn(1, 6, 8), torch.arange(6)),
     "patch_grid"),
    (lambda: interpolate_table_2d(torch.randn(12, 4), 4, 6), "12 rows"),
    (lambda: interpolate_table_2d(torch.randn(12, 4), (3, 4), (0, 2)), "at least 1"),
    (lambda: interpolate_table_2d(torch.randn(12, 4), (3, 4, 1), 6), "(height, width)"),
    (lambda: interpolate_table_2d(torch.randn(12, 4), (3, 4), 6, mode="area"), "mode"),
    (lambda: interpolate_table_2d(torch.randn(3, 4, 4), (3, 4), 6), "2-D"),
    (lambda: position_similarity_maps(torch.randn(12, 4), 3, 3), "3×3 grid"),
    (lambda: position_similarity_maps(torch.arange(9).view(9, 1), 3, 3), "floating-point"),
])
def test_bad_input_is_refused_with_a_readable_message(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value), str(error.value)
