"""Chapter 08 — positions in 2-D: where a patch sits in an image.

A Vision Transformer (ViT; Dosovitskiy et al., 2021) cuts an image into a grid of height × width
patches and reads them as one sequence in raster order (row-major, as PyTorch's ``flatten(2)``
lays them out): patch (r, c) is token r·width + c. Rows and columns count from 0.

Three ways to tell the model where a patch is:

    1-D learned over patches   ViT: one learned row per raster index; the model must discover
                               that index r·width + c means (r, c) (``learned.LearnedPositions``).
    2-D sinusoidal             MoCo v3 (Chen et al., 2021), MAE (He et al., 2022): half the
                               features encode the row, half the column, each with a 1-D
                               sinusoidal table (which half comes first differs: see below).
    axial 2-D RoPE             RoPE-ViT (Heo et al., 2024), SAM 2, Qwen2-VL, Pixtral, Llama 4's
                               vision encoder: half the rotation pairs turn by the row, half by
                               the column; q·k then depends on the offset (Δrow, Δcol) only.

Pure functions first (shapes in each docstring), then two position schemes. A 2-D scheme sets
``grid_positions = True`` (``course_lib.schemes``) and receives positions (seq, 2) of (row, col),
as ``patch_grid`` builds them; every other scheme receives the raster index (seq,).

Conventions, each checked in ``tests/test_positions_2d.py`` against HF transformers or, where
HF has no copy, against the formula as written in the file named:
    sinusoidal_table_2d  [column half ‖ row half]: the table MAE's checkpoints were trained with.
    MoCo v3              [row half ‖ column half] on the square grids it builds: the opposite
                         order (moco-v3, vits.py, ``build_2d_sincos_position_embedding``), also
                         HF's generic ``build_2d_sinusoidal_position_embedding``.
    apply_rope_2d        pairs 0..d/4 − 1 turn by the row, d/4..d/2 − 1 by the column, both at
                         θ_j = base^(−2j/(d/2)); "half_split", given HF's own positions, is
                         exactly Qwen2-VL's vision RoPE (see ``patch_grid`` on its patch order).
    Pixtral              rows at θ_j too, but columns at base^(−2/d)·θ_j: the head_dim table's odd
                         frequencies, in between the row ones (rows get the even ones). HF's
                         version is "half_split"; Mistral's reference (mistral-inference,
                         rope.py, ``precompute_freqs_cis_2d``) is "interleaved", the same rotation
                         once q and k's features are permuted, as HF's weight conversion does.
    Llama 4 (vision)     "interleaved" pairs, the column first, positions counted from 1.
    RoPE-ViT, SAM 2      "interleaved" pairs, the column first, positions from 0, base 100
                         (rope-vit, models/vit_rope.py) or 10000 (SAM 2's memory attention,
                         sam2/modeling/position_encoding.py): both ``compute_axial_cis``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ._validation import (
    require_choice,
    require_int,
    require_layout,
    require_positive_float,
    require_tensor,
)
from .learned import position_similarity
from .rope import rope_inv_freq, rotate_every_two, rotate_half
from .schemes import PositionScheme
from .sinusoidal import sinusoid_frequencies, sinusoidal_table

# --- checks --------------------------------------------------------------------------------------


def _require_multiple_of_4(name: str, value, why: str) -> int:
    """Rows and columns get half the features each, and each half is made of pairs."""
    value = require_int(name, value, minimum=4)
    if value % 4:
        raise ValueError(f"{name} must be a multiple of 4 ({why}), got {value}.")
    return value


def _require_positions(positions, seq: int | None = None, who: str = "positions") -> torch.Tensor:
    """positions (seq, 2) or (batch, seq, 2) of (row, col), real numbers; seq checked if given."""
    require_tensor(who, positions)
    shape = tuple(positions.shape)
    if positions.dtype == torch.bool or positions.is_complex():
        raise ValueError(f"{who} must hold real numbers (rows and columns), got dtype "
                         f"{positions.dtype}.")
    if positions.ndim == 1:
        raise ValueError(
            f"{who} must give each token its (row, col): shape (seq, 2) or (batch, seq, 2), got "
            f"shape {shape}, one number per token (a raster index, what 1-D schemes take). "
            f"Build 2-D positions with patch_grid(height, width)."
        )
    if positions.ndim not in (2, 3) or shape[-1] != 2:
        hint = ""
        if positions.ndim == 2 and shape[0] == 2:
            hint = (" It looks like (2, seq), rows stacked over columns: pass positions.T "
                    "(one (row, col) per token).")
        raise ValueError(f"{who} must have shape (seq, 2) or (batch, seq, 2), one (row, col) per "
                         f"token, got shape {shape}.{hint}")
    if seq is not None and shape[-2] != seq:
        hint = ""
        if positions.ndim == 2 and shape[0] == 2:
            hint = " If you stacked rows over columns as (2, seq), pass positions.T."
        raise ValueError(f"{who} must give one (row, col) per token: it has {shape[-2]} rows "
                         f"(shape {shape}), but there are {seq} tokens (the second-to-last axis "
                         f"of x, (..., seq, features)).{hint}")
    return positions


def _require_size(name: str, size) -> tuple[int, int]:
    """A grid size: an int (a square grid) or a pair (height, width) of whole numbers ≥ 1."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return (require_int(f"{name}[0] (height)", size[0], minimum=1),
                require_int(f"{name}[1] (width)", size[1], minimum=1))
    if isinstance(size, (tuple, list)):
        raise ValueError(f"{name} must be (height, width) or one whole number for a square grid, "
                         f"got {size!r}.")
    side = require_int(name, size, minimum=1)
    return side, side


def _require_table(table, rows: int, what: str) -> torch.Tensor:
    """table (rows, d): one row per patch of a grid described by ``what``."""
    require_tensor("table", table, floating=True)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (patches, features), one row per patch in raster "
                         f"order, got shape {tuple(table.shape)}.")
    if table.shape[0] != rows:
        raise ValueError(f"table has {table.shape[0]} rows, but {what} has {rows} patches: give "
                         f"the grid size the table was built for (height·width == rows).")
    return table


def _angle_device_dtype(device) -> torch.dtype:
    """float64 angles wherever the device has them; Apple's MPS has no float64."""
    return torch.float32 if torch.device(device or "cpu").type == "mps" else torch.float64


# --- the grid ------------------------------------------------------------------------------------


def patch_grid(height: int, width: int, device=None) -> torch.Tensor:
    """(height·width, 2) int64: the (row, col) of every patch in raster order (row-major).

    Row r·width + c is (r, c), the order ViT's ``flatten(2)`` gives its patches, and Pixtral's.
    Not every model reads its patches in raster order: Qwen2-VL, with ``spatial_merge_size`` 2
    (the default of HF's ``Qwen2VLVisionConfig``), lays them out 2×2-block-major, (0, 0), (0, 1),
    (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), ..., so that each 2×2 block can later be merged into
    one token (HF's ``vision_utils.get_vision_position_ids``). That is why the 2-D schemes take
    every token's (row, col) rather than a raster index: with HF's positions passed in,
    ``apply_rope_2d`` is exactly Qwen2-VL's rotation, whatever the order of the patches.
    """
    height = require_int("height", height, minimum=1)
    width = require_int("width", width, minimum=1)
    rows, cols = torch.meshgrid(torch.arange(height, device=device),
                                torch.arange(width, device=device), indexing="ij")
    return torch.stack((rows.flatten(), cols.flatten()), dim=-1)


# --- 2-D sinusoidal table (MAE) ------------------------------------------------------------------


def sinusoidal_table_2d(height: int, width: int, d_model: int,
                        base: float = 10000.0) -> torch.Tensor:
    """(height·width, d_model) float32: [column's 1-D table ‖ row's 1-D table] for each patch.

    Row r·width + c of the result is
        [ sinusoidal_table(width, d/2, layout="half_split")[c]  ‖  ... (height, ...)[r] ]
        = [sin cω_0 … sin cω_{d/4−1}, cos cω_0 … ‖ sin rω_0 …, cos rω_0 …],  ω_i = base^(−2i/(d/2)).
    d_model must be a multiple of 4 (two halves, each of (sin, cos) pairs).

    This is MAE's ``get_2d_sincos_pos_embed`` without its CLS row. MAE's code writes
    ``np.meshgrid(grid_w, grid_h)``, whose first grid is the *column* index, then calls the half
    built from it "emb_h": so MAE's first half encodes the column, although named for the row.
    HF transformers 5.23 builds the canonical [row ‖ column] table
    (``build_2d_sinusoidal_position_embedding(height, width, embed_dim, temperature=base)``, any
    height and width) and swaps its halves in ``ViTMAEEmbeddings`` to match the pretrained
    weights; this function gives MAE's order directly, equal to HF's bit for bit.
    """
    height = require_int("height", height, minimum=1)
    width = require_int("width", width, minimum=1)
    d_model = _require_multiple_of_4("d_model", d_model, "half the features encode the column, "
                                     "half the row, each as (sin, cos) pairs")
    require_positive_float("base", base)
    grid = patch_grid(height, width)
    by_col = sinusoidal_table(width, d_model // 2, base, layout="half_split")   # (width, d/2)
    by_row = sinusoidal_table(height, d_model // 2, base, layout="half_split")  # (height, d/2)
    return torch.cat((by_col[grid[:, 1]], by_row[grid[:, 0]]), dim=-1)


def _sincos_2d(positions: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """``sinusoidal_table_2d``'s rows for any positions (..., 2) of (row, col), from the formula:
    (..., 4·len(frequencies)) in frequencies' dtype, on its device."""
    angles = positions.to(frequencies)[..., None] * frequencies     # (..., 2, d/4): rω_i, cω_i
    row, col = angles.unbind(-2)
    return torch.cat((col.sin(), col.cos(), row.sin(), row.cos()), dim=-1)


# --- axial 2-D RoPE (Qwen2-VL, Pixtral, Llama 4) -------------------------------------------------


def axial_rope_angles(positions: torch.Tensor, head_dim: int,
                      base: float = 10000.0) -> torch.Tensor:
    """The angle of every rotation pair: positions (..., seq, 2) -> (..., seq, head_dim/2).

    positions: (seq, 2) or (batch, seq, 2) of (row, col), whole or fractional. Pair j turns by
        row·θ_j          for j = 0 .. head_dim/4 − 1
        col·θ_{j−d/4}    for j = head_dim/4 .. head_dim/2 − 1,
    θ_j = ``rope_inv_freq(head_dim // 2, base)`` = base^(−2j/(head_dim/2)): rows and columns use
    the same head_dim/4 clocks (Qwen2-VL's vision RoPE and Llama 4's). Float64 on positions'
    device (float32 on MPS). head_dim must be a multiple of 4.
    """
    head_dim = _require_multiple_of_4("head_dim", head_dim, "rows and columns get head_dim/4 "
                                      "rotation pairs each")
    positions = _require_positions(positions)
    theta = rope_inv_freq(head_dim // 2, base, device=positions.device)     # (d/4,)
    angles = positions.to(theta)[..., None] * theta                           # (..., seq, 2, d/4)
    return angles.flatten(-2)                          # [row·θ_0 … row·θ_{d/4−1}, col·θ_0 …]


def _rotate_2d(x: torch.Tensor, angles: torch.Tensor, layout: str) -> torch.Tensor:
    """x (..., seq, d) turned pair by pair by angles broadcastable to (..., seq, d/2)."""
    cos = angles.cos()
    sin = angles.sin()
    if layout == "half_split":     # pair j = (j, j + d/2): [a_0 … a_{d/2−1} ‖ a_0 … a_{d/2−1}]
        cos, sin, turn = torch.cat((cos, cos), -1), torch.cat((sin, sin), -1), rotate_half
    else:                          # pair j = (2j, 2j + 1): a_0, a_0, a_1, a_1, ...
        cos, sin = cos.repeat_interleave(2, -1), sin.repeat_interleave(2, -1)
        turn = rotate_every_two
    # angles exact in float64; the rotation in float32 or better, rounded once to x's dtype
    work = torch.promote_types(x.dtype, torch.float32)
    x_work = x.to(work)
    # each pair (a, b) -> (a cos − b sin, a sin + b cos):  x' = x ⊙ cos + turn(x) ⊙ sin
    return (x_work * cos.to(work) + turn(x_work) * sin.to(work)).to(x.dtype)


def _angles_for(x: torch.Tensor, positions, base: float) -> torch.Tensor:
    """``axial_rope_angles`` for x (..., seq, head_dim), shaped to broadcast against x: (seq, d/2),
    or (batch, 1, ..., seq, d/2) for positions (batch, seq, 2) (one row per image; heads share)."""
    require_tensor("x", x, min_ndim=2, floating=True)
    head_dim = _require_multiple_of_4("x.shape[-1] (head_dim)", x.shape[-1],
                                      "rows and columns get head_dim/4 rotation pairs each")
    positions = _require_positions(positions, seq=x.shape[-2])
    angles = axial_rope_angles(positions.to(x.device), head_dim, base)
    if positions.ndim == 2:
        return angles
    if x.ndim < 3 or positions.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"positions of shape (batch, seq, 2) = {tuple(positions.shape)} need x whose first "
            f"axis is that batch (or positions.shape[0] == 1), got x of shape {tuple(x.shape)}. "
            f"Give positions (seq, 2) to use the same grid for every image."
        )
    return angles.reshape(angles.shape[0], *(1,) * (x.ndim - 3), *angles.shape[1:])


def apply_rope_2d(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0,
                  layout: str = "half_split") -> torch.Tensor:
    """Axial 2-D RoPE: x (..., seq, head_dim) -> same shape, dtype and device.

    positions: (seq, 2) of (row, col), shared by every image, or (batch, seq, 2), one grid per
    image (x's first axis is then the batch; heads are broadcast). Pair j turns by the angle
    ``axial_rope_angles`` gives it: the first head_dim/4 pairs by the row, the next by the column.
    Because each pair is a plain RoPE rotation, q·k after rotation depends on (Δrow, Δcol) only.

    ``layout`` names which features form pair j:
        "half_split"   (j, j + head_dim/2), HF's ``rotate_half``: exactly Qwen2-VL's vision RoPE
                       (``Qwen2VLVisionRotaryEmbedding`` + ``apply_rotary_pos_emb_vision``) when
                       given HF's positions, which are 2×2-block-major, not raster (``patch_grid``).
        "interleaved"  (2j, 2j + 1), as complex numbers: Llama 4's, SAM 2's and RoPE-ViT's vision
                       RoPE use this pairing (with the column's pairs first).
    The two agree up to ``half_split_permutation``: half_split(x[..., P]) == interleaved(x)[..., P].
    Published variants, measured in tests/test_positions_2d.py:
        Pixtral  == apply_rope_2d(x, positions · (1, base^(−2/head_dim)))  (columns' clocks slower;
                    Mistral's reference code: the same with layout="interleaved")
        Llama 4  == apply_rope_2d(x, (col + 1, row + 1), layout="interleaved"), CLS (last) at (0, 0)
        SAM 2    == apply_rope_2d(x, (col, row), layout="interleaved"); RoPE-ViT: base=100 too
    Angles in float64 (float32 on MPS), the rotation in float32 or better, rounded once.
    """
    layout = require_layout(layout)
    require_positive_float("base", base)
    return _rotate_2d(x, _angles_for(x, positions, base), layout)


# --- resizing a learned patch table, and reading one ---------------------------------------------

#: Modes of ``interpolate_table_2d``: "bicubic" is what HF ViT's ``interpolate_pos_encoding``,
#: DeiT, MAE and timm's ``resample_abs_pos_embed`` use.
INTERPOLATION_MODES_2D = ("bicubic", "bilinear", "nearest")


def interpolate_table_2d(table: torch.Tensor, old_size, new_size,
                         mode: str = "bicubic") -> torch.Tensor:
    """Resize a learned patch table as an image: (old_h·old_w, d) -> (new_h·new_w, d), same dtype.

    old_size, new_size: (height, width) in patches, or one number for a square grid. The table's
    rows are laid back onto the old grid (raster order), each feature is resampled as one image
    channel with ``F.interpolate(size=new_size, align_corners=False)`` and read out in raster order
    again: HF ViT's ``ViTEmbeddings.interpolate_pos_encoding`` without the CLS row (HF 5.23 asks
    for the new size; DINO's older code asked for a scale factor, which for some sizes rounded to
    one patch too few, so DINOv2 and HF moved to ``size``). HF reads the old grid as square
    (side √rows); this function takes any (old_h, old_w). Growing the grid stretches it: old patch
    (r, c) lands near (r·new_h/old_h, c·new_w/old_w). Resizing to the same size returns the table.
    Computed in float32 or better, rounded once to the table's dtype.
    """
    old_h, old_w = _require_size("old_size", old_size)
    new_h, new_w = _require_size("new_size", new_size)
    mode = require_choice("mode", mode, INTERPOLATION_MODES_2D)
    table = _require_table(table, old_h * old_w, f"old_size ({old_h}, {old_w})")
    work = torch.promote_types(table.dtype, torch.float32)
    image = table.to(work).reshape(1, old_h, old_w, -1).permute(0, 3, 1, 2)    # (1, d, h, w)
    corners = {} if mode == "nearest" else {"align_corners": False}
    image = F.interpolate(image, size=(new_h, new_w), mode=mode, **corners)     # (1, d, H, W)
    return image.permute(0, 2, 3, 1).reshape(new_h * new_w, -1).to(table.dtype)


def position_similarity_maps(table: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(height, width, height, width): map [r, c] is the cosine similarity of patch (r, c)'s row
    of ``table`` with every patch's row, laid out on the grid (ViT paper, Fig. 7).

    table: (height·width, d), one row per patch in raster order (a learned ViT table, or
    ``sinusoidal_table_2d``). Entry [r, c, r', c'] = cos(angle between rows r·w + c and r'·w + c').
    An all-zero row has no direction: its similarities come out as 0.
    """
    height = require_int("height", height, minimum=1)
    width = require_int("width", width, minimum=1)
    table = _require_table(table, height * width, f"a {height}×{width} grid")
    return position_similarity(table).reshape(height, width, height, width)


# --- the two position schemes --------------------------------------------------------------------


class Sinusoidal2DPositions(PositionScheme):
    """Add the 2-D sinusoidal table: x (batch, seq, d_model) -> same shape.

    ``embed(x, positions)``: positions (seq, 2) or (batch, seq, 2) of (row, col) (a 2-D scheme:
    ``grid_positions = True``); adds row r·w + c of ``sinusoidal_table_2d`` to a patch at (r, c),
    computed from the formula, so any grid size works and no table has to be stored. d_model a
    multiple of 4.
    """

    grid_positions = True

    def __init__(self, d_model: int, base: float = 10000.0):
        super().__init__()
        self.d_model = _require_multiple_of_4("d_model", d_model, "half the features encode the "
                                              "column, half the row, each as (sin, cos) pairs")
        self.base = require_positive_float("base", base)
        self.frequencies = sinusoid_frequencies(d_model // 2, base)   # ω_i, (d/4,) float64

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, base={self.base}"

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        require_tensor("x", x, min_ndim=2, floating=True)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"Sinusoidal2DPositions was built for d_model={self.d_model}, but the "
                             f"tokens have {x.shape[-1]} features.")
        positions = _require_positions(positions, seq=x.shape[-2])
        if positions.ndim == 3 and (x.ndim != 3 or positions.shape[0] not in (1, x.shape[0])):
            raise ValueError(f"positions of shape (batch, seq, 2) = {tuple(positions.shape)} need "
                             f"x (batch, seq, d_model) with that batch, got x of shape "
                             f"{tuple(x.shape)}; give positions (seq, 2) to share one grid.")
        frequencies = self.frequencies.to(x.device, _angle_device_dtype(x.device))
        return x + _sincos_2d(positions.to(x.device), frequencies).to(x.dtype)


class AxialRotaryPositions(PositionScheme):
    """Axial 2-D RoPE as a course scheme: rotates every head's q and k (never v).

    ``rotate(q, k, positions)``: q, k (batch, heads, seq, head_dim) (k may have fewer heads);
    positions (seq, 2) or (batch, seq, 2) of (row, col) (``grid_positions = True``). Exactly
    ``apply_rope_2d`` on q and on k, with this scheme's base and layout ("half_split": Qwen2-VL).
    """

    grid_positions = True

    def __init__(self, head_dim: int, base: float = 10000.0, layout: str = "half_split"):
        super().__init__()
        self.head_dim = _require_multiple_of_4("head_dim", head_dim, "rows and columns get "
                                               "head_dim/4 rotation pairs each")
        self.base = require_positive_float("base", base)
        self.layout = require_layout(layout)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}, layout={self.layout!r}"

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        if q.shape[-1] != self.head_dim:
            raise ValueError(f"AxialRotaryPositions was built for head_dim={self.head_dim}, but "
                             f"the attention heads have {q.shape[-1]} features "
                             f"(d_model / num_heads).")
        angles = _angles_for(q, positions, self.base)     # computed once, shared by q and k
        if k.shape[-2] != q.shape[-2] or k.ndim != q.ndim:
            return (_rotate_2d(q, angles, self.layout),
                    _rotate_2d(k, _angles_for(k, positions, self.base), self.layout))
        return _rotate_2d(q, angles, self.layout), _rotate_2d(k, angles, self.layout)
