"""Chapter 05 — rotary position embeddings (RoPE; Su et al., "RoFormer", 2021).

Split a query or key vector of width head_dim into pairs, and turn pair i of
the vector at position m by the angle m·θ_i, with θ_i = base^(−2i/head_dim):

    [x_a, x_b] -> [x_a cos mθ_i − x_b sin mθ_i,  x_a sin mθ_i + x_b cos mθ_i]

A rotation by mθ on q and by nθ on k leaves q·k depending on (m − n)θ only, so
attention scores see the offset, not the absolute positions. Values are never
rotated.

Two conventions pair the features differently (same maths, permuted features):
    "interleaved"  pairs (0, 1), (2, 3), ...        RoFormer, Meta's Llama code, GPT-J, torchtune
    "half_split"   pairs (i, i + head_dim/2)        GPT-NeoX, HF Llama (``rotate_half``)
flash-attn's ``interleaved=False`` and vLLM's "neox style" are the half-split one. The name is the
one chapter 03's sinusoidal tables use for the same split (``course_lib.sinusoidal`` says why);
the old name "half" raises a ValueError that says so.

Shapes, one convention for every function here:
    x          (..., seq, head_dim): [seq, d], [batch, seq, d] or HF's [batch, heads, seq, d]. The
               keyword ``token_dim`` names the token axis if it is not the second-to-last: -3 for
               [batch, seq, heads, d] (GPT-J, flash-attn, torchtune).
    positions  (seq,): one position per token, shared by every sequence; or (batch, seq): one row
               per sequence (HF's ``position_ids``), which needs x to start with a batch axis of
               that size (or positions.shape[0] == 1), and is broadcast over heads in either layout.
               Anything else is a ValueError: a silent broadcast would rotate by the wrong index.

Precision: the angles m·θ_i are computed in float64 on x's device (float32 on Apple's MPS, which
has no float64), the rotation in float32 or better, and half-precision results are rounded once,
at the end. HF's Llama rounds cos and sin to bfloat16 and multiplies in bfloat16; the measured
difference is in ``apply_rope``'s docstring.

Speed: ``apply_rope`` builds its angles on every call and writes the rotation as the formula
x·cos + turn(x)·sin, readable and exact. ``RotaryPositions`` (what a model uses) keeps the cos/sin
table in a buffer and turns with fewer passes over q and k: a complex multiply (interleaved) or
multiply-adds into one output (half-split). ``benchmarks/bench_rope.py`` measures both against
HF's eager code.

Context extension (chapter 07): ``RotaryPositions(..., scaling=kind, factor=s, original_max_len=L0,
**params)`` turns by the stretched frequencies θ'_i of ``course_lib.rope_scaling`` and multiplies
the rotated q and k by the method's attention factor; ``apply_rope(..., inv_freq=θ')`` turns by any
given frequencies.
"""

from __future__ import annotations

import torch

from ._validation import (
    require_even,
    require_int,
    require_layout,
    require_positive_float,
    require_tensor,
)
from .schemes import PositionScheme


def _angle_dtype(device: torch.device | str | None) -> torch.dtype:
    """float64 for angles wherever the device has it; Apple's MPS has no float64 at all."""
    return torch.float32 if torch.device(device or "cpu").type == "mps" else torch.float64


def rope_inv_freq(head_dim: int, base: float = 10000.0, *,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """(head_dim/2,) angular frequencies θ_i = base^(−2i/head_dim): radians per position.

    float64 on ``device`` (default the CPU); float32 on MPS, which has no float64. The same clocks
    as chapter 03's sinusoids (``sinusoid_frequencies`` calls this function).
    """
    require_even("head_dim", head_dim, minimum=2)
    require_positive_float("base", base)
    i2 = torch.arange(0, head_dim, 2, dtype=_angle_dtype(device), device=device)  # 2i
    return base ** (-i2 / head_dim)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF Llama / GPT-NeoX: [x1 ‖ x2] -> [−x2 ‖ x1], pairing feature i with feature i + d/2."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """GPT-J / RoFormer: (x0, x1, x2, x3, ...) -> (−x1, x0, −x3, x2, ...), pairing neighbours."""
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x_odd, x_even), dim=-1).flatten(-2)


# --- shapes: which position turns which token ------------------------------------------------


def _token_axis(x: torch.Tensor, token_dim) -> int:
    """The token axis of x as a negative index, at most −2 (the last axis holds the features)."""
    require_int("token_dim", token_dim)
    axis = token_dim - x.ndim if token_dim >= 0 else token_dim
    if not -x.ndim <= axis <= -2:
        raise ValueError(
            f"token_dim must name an axis of x before its last one (the features): -2 for x of "
            f"shape (..., seq, head_dim) such as [batch, heads, seq, head_dim], -3 for "
            f"[batch, seq, heads, head_dim]; got token_dim={token_dim} for x of shape "
            f"{tuple(x.shape)}."
        )
    return axis


def _positions_for(x: torch.Tensor, positions: torch.Tensor | None, axis: int) -> torch.Tensor:
    """positions (seq,) or (batch, seq), checked against x, as a view that broadcasts against
    x.shape[:-1]: (seq, 1, ...) or (batch, 1, ..., seq, 1, ...), with a 1 for every other axis.

    ``axis`` is x's token axis (negative). Default positions: 0, 1, ..., seq − 1.
    """
    seq = x.shape[axis]
    heads_after = (1,) * (-axis - 2)          # axes between tokens and features: [B, T, H, D]
    if positions is None:
        return torch.arange(seq, device=x.device).reshape(seq, *heads_after)
    require_tensor("positions", positions)
    if positions.dtype == torch.bool or positions.is_complex():
        raise ValueError(f"positions must hold real numbers, got dtype {positions.dtype}.")
    where = f"x of shape {tuple(x.shape)} has {seq} tokens along token_dim={axis}"
    if positions.ndim not in (1, 2):
        raise ValueError(
            f"positions must have shape (seq,), shared by every sequence, or (batch, seq), one "
            f"row per sequence; got shape {tuple(positions.shape)}. Do not add axes for heads: "
            f"RoPE broadcasts over them itself."
        )
    if positions.shape[-1] != seq:
        raise ValueError(
            f"positions must give one position per token: its last dimension is "
            f"{positions.shape[-1]}, but {where}."
        )
    positions = positions.to(x.device)
    if positions.ndim == 1:
        return positions.reshape(seq, *heads_after)
    before = x.ndim + axis                    # axes of x before its token axis; the first: batch
    if before == 0:
        raise ValueError(
            f"positions of shape (batch, seq) = {tuple(positions.shape)} need x with a batch axis "
            f"first, but {where} and no axis before them: give positions of shape (seq,)."
        )
    if positions.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"positions of shape (batch, seq) = {tuple(positions.shape)} give {positions.shape[0]} "
            f"rows, but x's batch axis (its first) has {x.shape[0]} sequences (x of shape "
            f"{tuple(x.shape)}): give one row per sequence, one row for all, or shape (seq,)."
        )
    return positions.reshape(positions.shape[0], *(1,) * (before - 1), seq, *heads_after)


def _check_rope_input(x, positions, rotary_dim, token_dim):
    """Checks shared by ``apply_rope`` and ``apply_rope_complex``: (positions view, rotary_dim)."""
    require_tensor("x", x, min_ndim=2, floating=True)
    head_dim = x.shape[-1]
    if rotary_dim is None:
        rotary_dim = require_even("x.shape[-1] (head_dim)", head_dim, minimum=2)
    require_even("rotary_dim", rotary_dim, minimum=2)
    if rotary_dim > head_dim:
        raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed x's last dimension "
                         f"({head_dim}).")
    return _positions_for(x, positions, _token_axis(x, token_dim)), rotary_dim


def _check_inv_freq(inv_freq, x, base, rotary_dim) -> int:
    """``apply_rope``'s own frequencies: a 1-D real tensor that replaces base; -> rotary_dim."""
    require_tensor("x", x, min_ndim=2, floating=True)
    require_tensor("inv_freq", inv_freq, min_ndim=1, floating=True)
    if inv_freq.ndim != 1 or inv_freq.is_complex() or not len(inv_freq):
        raise ValueError(f"inv_freq must be real numbers of shape (rotary_dim/2,), one per pair, "
                         f"got shape {tuple(inv_freq.shape)}, dtype {inv_freq.dtype}.")
    if base != 10000.0:
        raise ValueError(f"give base or inv_freq, not both: inv_freq replaces the frequencies "
                         f"base^(−2i/d) (got base={base}).")
    if rotary_dim is not None and rotary_dim != 2 * len(inv_freq):
        raise ValueError(f"inv_freq has {len(inv_freq)} frequencies, one per pair, so it rotates "
                         f"{2 * len(inv_freq)} features; rotary_dim={rotary_dim} disagrees: "
                         f"leave rotary_dim out.")
    if 2 * len(inv_freq) > x.shape[-1]:
        raise ValueError(f"inv_freq has {len(inv_freq)} frequencies, one per pair, for "
                         f"{2 * len(inv_freq)} features, but x's last dimension has only "
                         f"{x.shape[-1]}.")
    return 2 * len(inv_freq)


# --- by hand: the formula, angles rebuilt on every call ---------------------------------------


def _cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, layout: str):
    """cos and sin of m·θ_i laid out for ``layout``: two (*positions.shape, 2·len(inv_freq)), in
    inv_freq's dtype and on its device."""
    # m·θ_i for every position m and pair i: (*positions.shape, d/2); cos and sin of each once
    angles = positions.to(inv_freq)[..., None] * inv_freq
    cos, sin = torch.cos(angles), torch.sin(angles)
    if layout == "half_split":
        # pairs (i, i + d/2): [θ_0 … θ_{d/2−1} ‖ θ_0 … θ_{d/2−1}], HF's torch.cat((freqs, freqs))
        return torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)
    # pairs (2i, 2i + 1): θ_0, θ_0, θ_1, θ_1, ...
    return cos.repeat_interleave(2, dim=-1), sin.repeat_interleave(2, dim=-1)


def _rope(x: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor, layout: str):
    """``apply_rope`` without its checks (positions already a broadcasting view): turn the first
    2·len(inv_freq) features, pass the rest."""
    rotary_dim = 2 * len(inv_freq)
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]  # partial rotary: x_pass is untouched
    cos, sin = _cos_sin(positions, inv_freq, layout)  # (..., seq, rotary_dim)
    turn = rotate_half if layout == "half_split" else rotate_every_two
    # Angles are exact in float64; the rotation runs in x's precision (at least float32, so
    # half-precision inputs are rounded once, at the end).
    work = torch.promote_types(x.dtype, torch.float32)
    x_rot = x_rot.to(work)
    # Each pair (a, b) -> (a cos mθ − b sin mθ, a sin mθ + b cos mθ), written feature-wise
    # with turn(a, b) = (−b, a):   x' = x ⊙ cos(mθ) + turn(x) ⊙ sin(mθ)
    rotated = (x_rot * cos.to(work) + turn(x_rot) * sin.to(work)).to(x.dtype)
    return rotated if x_pass.shape[-1] == 0 else torch.cat((rotated, x_pass), dim=-1)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0,
                 layout: str = "interleaved"):
    """cos and sin of every angle m·θ_i laid out to match ``layout``: two (*positions.shape,
    head_dim), float64 (float32 on MPS) on positions' device.

    ``positions``: (seq,) or (batch, seq). "half_split" repeats the head_dim/2 angles as
    [angles ‖ angles], as HF's ``torch.cat((freqs, freqs))``; "interleaved" repeats each one twice
    (θ_0, θ_0, θ_1, θ_1, ...).
    """
    require_tensor("positions", positions, min_ndim=1)
    if positions.ndim > 2 or positions.dtype == torch.bool or positions.is_complex():
        raise ValueError(f"positions must be real numbers of shape (seq,) or (batch, seq), got "
                         f"shape {tuple(positions.shape)}, dtype {positions.dtype}.")
    layout = require_layout(layout)
    return _cos_sin(positions, rope_inv_freq(head_dim, base, device=positions.device), layout)


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0,
               layout: str = "interleaved", rotary_dim: int | None = None, *,
               token_dim: int = -2, inv_freq: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate x (..., seq, head_dim) by its positions; returns the same shape, dtype and device.

    ``positions``: (seq,), shared by every sequence, or (batch, seq), one row per sequence (HF's
    ``position_ids``; x's first axis is then its batch axis, heads are broadcast); default
    0, 1, ..., seq − 1. Whole or fractional, negative too (a rotation backwards).
    ``rotary_dim``: rotate only the first rotary_dim features and pass the rest through (partial
    rotary, as GPT-J's rotary_dim and GPT-NeoX's rotary_pct); default all of head_dim.
    ``token_dim``: x's token axis, −2 (default: [seq, d], [batch, seq, d], [batch, heads, seq, d])
    or −3 ([batch, seq, heads, d], as GPT-J, flash-attn and torchtune).
    ``inv_freq``: (rotary_dim/2,) frequencies θ'_i to turn by instead of base^(−2i/rotary_dim),
    e.g. stretched ones from ``course_lib.rope_scaling.scaled_rope_inv_freq``; it fixes
    rotary_dim = 2·len(inv_freq), replaces ``base``, and the angles m·θ'_i are computed in its
    dtype (give float64 for exact angles).

    Precision: angles in float64 (float32 on MPS), the rotation in float32 or better, rounded
    once to x's dtype. HF Llama's eager ``apply_rotary_pos_emb`` rounds cos and sin to x's dtype
    and multiplies in it. Measured on (2, 4, 512, 64) N(0, 1) inputs at positions up to 4095
    (tests/test_rope.py keeps the ordering): max |ours − HF| = 0.031 in bfloat16 (0.0039 in
    float16), one or two units in the last place; against a float64 reference our max error is
    0.014 (mean 0.0011) and HF's 0.026 (mean 0.0019) in bfloat16, 0.0019 (mean 0.00014) and
    0.0028 (mean 0.00024) in float16.
    """
    layout = require_layout(layout)
    if inv_freq is not None:
        rotary_dim = _check_inv_freq(inv_freq, x, base, rotary_dim)
    positions, rotary_dim = _check_rope_input(x, positions, rotary_dim, token_dim)
    if inv_freq is None:
        inv_freq = rope_inv_freq(rotary_dim, base, device=x.device)      # θ_i, float64
    return _rope(x, positions, inv_freq.to(x.device), layout)


def apply_rope_complex(x: torch.Tensor, positions: torch.Tensor | None = None,
                       base: float = 10000.0, *, rotary_dim: int | None = None,
                       token_dim: int = -2) -> torch.Tensor:
    """The same rotation as Meta's Llama code writes it: pair (x_2i, x_2i+1) as a complex number.

    Interleaved layout only (that is how pairs become complex numbers). x (..., seq, head_dim),
    ``positions``, ``rotary_dim`` and ``token_dim`` as ``apply_rope``; float32 and float64 are
    rotated in their own precision, other dtypes in float32 and cast back.
    """
    positions, rotary_dim = _check_rope_input(x, positions, rotary_dim, token_dim)
    inv_freq = rope_inv_freq(rotary_dim, base, device=x.device)
    angles = positions.to(inv_freq)[..., None] * inv_freq                         # m·θ_i
    work = torch.promote_types(x.dtype, torch.float32)
    rotations = torch.polar(torch.ones_like(angles), angles).to(work.to_complex())  # e^{i m θ_i}
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    # (..., seq, rotary_dim) -> (..., seq, rotary_dim/2) complex numbers x_2i + i·x_2i+1
    rotated = torch.view_as_real(_as_pairs(x_rot.to(work)) * rotations).flatten(-2).to(x.dtype)
    return rotated if x_pass.shape[-1] == 0 else torch.cat((rotated, x_pass), dim=-1)


# --- fast: a cached table, fewer passes over q and k --------------------------------------------


def _as_pairs(x: torch.Tensor) -> torch.Tensor:
    """(..., 2k) float -> (..., k) complex x_2i + i·x_2i+1: a view, copied only when x's strides
    cannot be read as complex numbers (an odd row stride, e.g. head_dim 7 with rotary_dim 4)."""
    pairs = x.unflatten(-1, (-1, 2))
    if (pairs.stride(-1) != 1 or pairs.storage_offset() % 2
            or any(stride % 2 for stride in pairs.stride()[:-1])):
        pairs = pairs.contiguous()
    return torch.view_as_complex(pairs)


def _turn_half_split(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x' = x ⊙ cos + rotate_half(x) ⊙ sin without building rotate_half(x): one product and two
    multiply-adds into the same output. x (..., d); cos (..., d) = [cos ‖ cos]; sin (..., d/2)."""
    half = x.shape[-1] // 2
    x_a, x_b = x[..., :half], x[..., half:]
    out = x * cos                                        # [x_a cos ‖ x_b cos], one pass
    out[..., :half].addcmul_(x_b, sin, value=-1.0)       # x_a' = x_a cos − x_b sin
    out[..., half:].addcmul_(x_a, sin)                   # x_b' = x_b cos + x_a sin
    return out


def _rotation_table(length: int, rotary_dim: int, base: float, device, dtype) -> torch.Tensor:
    """(length, rotary_dim/2, 2): [..., 0] = cos m·θ_i, [..., 1] = sin m·θ_i for m = 0..length−1,
    computed in float64 (float32 on MPS) on ``device``, stored in ``dtype``."""
    inv_freq = rope_inv_freq(rotary_dim, base, device=device)
    angles = torch.arange(length, device=device, dtype=inv_freq.dtype)[:, None] * inv_freq
    return torch.stack((angles.cos(), angles.sin()), dim=-1).to(dtype)


# --- the model's scheme: plain RoPE from a cached table, or stretched for a longer context ------


def _scaling_kinds() -> tuple[str, ...]:
    """``course_lib.rope_scaling.ROPE_SCALING_KINDS``, imported when needed: rope_scaling builds
    on this module's ``rope_inv_freq``, so a top-level import would be a cycle."""
    from .rope_scaling import ROPE_SCALING_KINDS

    return ROPE_SCALING_KINDS


class RotaryPositions(PositionScheme):
    """RoPE as a course position scheme: rotates every head's q and k (never v) inside attention.

    ``rotate(q, k, positions)``: q and k (batch, heads, seq, head_dim) (k may have fewer heads);
    positions (seq,) or (batch, seq), whole numbers ≥ 0 (the model passes 0, 1, ..., seq − 1).
    ``rotary_dim`` (even, ≤ head_dim; default head_dim, which must then be even) as ``apply_rope``.

    Plain RoPE (``scaling=None``, the default): the buffer ``cos_sin`` (rows, rotary_dim/2, 2)
    holds cos and sin of m·θ_i for m = 0..rows − 1 ([..., 0] cos, [..., 1] sin; viewed as complex
    numbers, the rotations e^{i m θ_i}). It starts empty and is rebuilt, from float64 angles,
    when a call needs more rows (from q's shape, no host sync; positions on the CPU are also read,
    which costs no device sync), another device or another precision: float32 for
    float32/bfloat16/float16 q, float64 for float64 q. So
    ``.to(device)`` moves it, and a cast such as ``.to(torch.bfloat16)`` does not lower its
    precision (HF keeps inv_freq in float32 for the same reason). Non-persistent: it is not in the
    state_dict, and checkpoints saved before it existed load unchanged.
    On an accelerator, positions' values are not read (that would wait for the device): a position
    past ``seq − 1`` there must already have a row.

    Context extension (chapter 07): ``scaling`` one of ``course_lib.rope_scaling``'s
    ``ROPE_SCALING_KINDS``, with ``factor`` (s ≥ 1), ``original_max_len`` (L0, the training
    length) and the kind's own settings as keywords (HF's names, e.g. ``low_freq_factor`` for
    "llama3"). Each call turns pair i by m·θ'_i and multiplies the rotated features by the
    attention factor (q and k both: every logit by its square, YaRN's 1/t), where
        θ', factor = scaled_rope_inv_freq(rotary_dim, base, scaling, s, L0, seq_len, **params)
    with seq_len = the largest position + 1: "dynamic" and "longrope" follow the current length
    ("dynamic" is plain RoPE up to L0). The angles are rebuilt from float64 on every call, as
    ``apply_rope`` does (no table); positions are read, a host sync on an accelerator.
    ``scaling="none"`` or ``"default"`` turns by plain RoPE's θ this way, the formula instead of
    the table: equal to ``scaling=None`` within rounding (measured: at most 1.2·eps·max|x|), and
    bit for bit for interleaved pairs at head_dim 16 on x86 CPUs (chapter 07 relies on that).
    ``.inv_freq`` (rotary_dim/2,) float64 and ``.attention_factor`` hold θ' and the factor at
    seq_len = L0 (θ and 1 without scaling); ``.frequencies(seq_len)`` gives them at any length.
    """

    def __init__(self, head_dim: int, base: float = 10000.0, layout: str = "interleaved",
                 rotary_dim: int | None = None, *, scaling: str | None = None,
                 factor: float | None = None, original_max_len: int | None = None, **params):
        super().__init__()
        self.head_dim = require_int("head_dim", head_dim, minimum=2)
        self.base = require_positive_float("base", base)
        self.layout = require_layout(layout)
        if rotary_dim is None:
            if head_dim % 2:
                raise ValueError(f"head_dim must be even to rotate every feature, got {head_dim}: "
                                 f"or give an even rotary_dim ≤ {head_dim} (partial rotary).")
            rotary_dim = head_dim
        self.rotary_dim = require_even("rotary_dim", rotary_dim, minimum=2)
        if self.rotary_dim > head_dim:
            raise ValueError(f"rotary_dim ({rotary_dim}) cannot exceed head_dim ({head_dim}).")
        self._set_scaling(scaling, factor, original_max_len, params)
        # θ'_i of the rotated pairs at L0 (float64, CPU), for reading; the table is built on the
        # device. Computing them now checks every scaling argument.
        self.inv_freq, self.attention_factor = self.frequencies(self.original_max_len or 1)
        self.register_buffer("cos_sin", torch.zeros(0, self.rotary_dim // 2, 2), persistent=False)

    def _set_scaling(self, scaling, factor, original_max_len, params) -> None:
        """Checks that the scaling arguments go together; ``frequencies`` checks their values."""
        self.scaling, self.factor, self.original_max_len = scaling, factor, original_max_len
        self.params = dict(params)
        pair = (("factor", factor), ("original_max_len", original_max_len))
        if scaling is None:
            given = [name for name, value in pair if value is not None] + sorted(params)
            if given:
                raise ValueError(
                    f"RotaryPositions got {', '.join(given)} without a scaling: these stretch "
                    f"RoPE for a longer context, so give scaling= one of "
                    f"{', '.join(_scaling_kinds())} (e.g. scaling='linear', factor=4.0, "
                    f"original_max_len=16); plain RoPE takes only head_dim, base, layout and "
                    f"rotary_dim."
                )
            return
        if scaling not in _scaling_kinds():
            raise ValueError(f"scaling must be None (plain RoPE) or one of "
                             f"{', '.join(map(repr, _scaling_kinds()))}; got {scaling!r}.")
        if scaling in ("none", "default"):                  # plain θ: nothing to stretch
            self.factor = 1.0 if factor is None else factor
            return
        missing = [name for name, value in pair if value is None]
        if missing:
            raise ValueError(
                f"scaling={scaling!r} needs factor (s, how many times longer the new context "
                f"is) and original_max_len (L0, the length the model was trained at; HF's "
                f"original_max_position_embeddings): missing {', '.join(missing)}."
            )

    def frequencies(self, seq_len: int) -> tuple[torch.Tensor, float]:
        """(θ' (rotary_dim/2,) float64 on the CPU, attention factor) for a sequence of seq_len
        positions: ``scaled_rope_inv_freq``'s with this scheme's scaling; θ and 1.0 without."""
        if self.scaling is None:
            return rope_inv_freq(self.rotary_dim, self.base), 1.0
        # imported here, not at the top: rope_scaling builds on rope_inv_freq (see _scaling_kinds)
        from .rope_scaling import scaled_rope_inv_freq

        # L0 is required for every kind but "none" and "default", which do not use it
        original = 1 if self.original_max_len is None else self.original_max_len
        return scaled_rope_inv_freq(self.rotary_dim, self.base, self.scaling, self.factor,
                                    original, seq_len, dtype=torch.float64, **self.params)

    def extra_repr(self) -> str:
        text = (f"head_dim={self.head_dim}, base={self.base}, layout={self.layout!r}, "
                f"rotary_dim={self.rotary_dim}")
        if self.scaling is None:
            return f"{text}, table rows={len(self.cos_sin)}"
        return (f"{text}, scaling={self.scaling!r}, factor={self.factor}, "
                f"original_max_len={self.original_max_len}")

    def _highest_position(self, positions: torch.Tensor) -> int | None:
        """Checks positions; returns the highest one if reading it is free (a CPU tensor; −1 if
        empty), None on an accelerator, where reading would wait for the device."""
        if positions.is_floating_point():
            raise ValueError(
                f"{type(self).__name__} takes positions as token counts: they must be whole "
                f"numbers (an integer tensor), got dtype {positions.dtype}. apply_rope takes "
                "fractional positions."
            )
        if positions.device.type != "cpu":
            return None
        if not positions.numel():
            return -1
        lowest, highest = (int(value) for value in torch.aminmax(positions))
        if lowest < 0:
            raise ValueError(f"{type(self).__name__}' positions count tokens from 0, got "
                             f"{lowest}. apply_rope turns by negative positions.")
        return highest

    def _table(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The buffer, rebuilt first if it lacks rows or has another device or dtype than x."""
        highest = self._highest_position(positions)
        rows = x.shape[-2]                      # positions 0..seq − 1, as the model passes them
        if highest is not None:                 # CPU positions: reading them is free
            rows = max(rows, highest + 1)
        work = torch.promote_types(x.dtype, torch.float32)
        table = self.cos_sin
        if len(table) < rows or table.device != x.device or table.dtype != work:
            grown = max(rows, 2 * len(table)) if len(table) < rows else len(table)
            self.cos_sin = _rotation_table(grown, self.rotary_dim, self.base, x.device, work)
        return self.cos_sin

    def _turn(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """x (batch, heads, seq, head_dim) turned by rows (*positions, rotary_dim/2, 2) of the
        table, positions as ``_positions_for`` shapes them."""
        rot = self.rotary_dim
        x_rot = x[..., :rot].to(rows.dtype)                # no copy for float32 x
        if self.layout == "interleaved":
            # pair (x_2i, x_2i+1) as x_2i + i·x_2i+1, times e^{i m θ_i}: one pass over x
            rotated = torch.view_as_real(_as_pairs(x_rot) * torch.view_as_complex(rows))
            rotated = rotated.flatten(-2)
        else:
            cos, sin = rows.unbind(-1)                     # (*positions, rotary_dim/2) each
            rotated = _turn_half_split(x_rot, torch.cat((cos, cos), dim=-1), sin.contiguous())
        rotated = rotated.to(x.dtype)
        return rotated if rot == x.shape[-1] else torch.cat((rotated, x[..., rot:]), dim=-1)

    def _turn_scaled(self, x: torch.Tensor, where: torch.Tensor, inv_freq: torch.Tensor,
                     factor: float) -> torch.Tensor:
        """x (batch, heads, seq, head_dim) turned by θ' at ``where`` (as ``_positions_for`` shapes
        positions), its rotated features times the attention factor (HF multiplies cos and sin by
        it, so features past rotary_dim pass through unscaled)."""
        rot = self.rotary_dim
        rotated = _rope(x[..., :rot], where, inv_freq, self.layout)    # x·cos + turn(x)·sin
        if factor != 1.0:
            rotated = rotated * factor                                  # f·R(mθ')x
        return rotated if rot == x.shape[-1] else torch.cat((rotated, x[..., rot:]), dim=-1)

    def _rotate_scaled(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        """Context extension: θ' and the attention factor for seq_len = the largest position + 1,
        the angles rebuilt from them (float64) for this call."""
        highest = self._highest_position(positions)
        if highest is None:                     # on an accelerator: the length costs a sync
            highest = int(positions.max()) if positions.numel() else -1
        inv_freq, factor = self.frequencies(max(highest + 1, 1))
        inv_freq = inv_freq.to(q.device)
        where_q, where_k = _positions_for(q, positions, -2), _positions_for(k, positions, -2)
        return (self._turn_scaled(q, where_q, inv_freq, factor),
                self._turn_scaled(k, where_k, inv_freq, factor))

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        # The one check left per call: the heads' width is only known once the model runs.
        if q.shape[-1] != self.head_dim:
            raise ValueError(
                f"{type(self).__name__} was built for head_dim={self.head_dim}, but the attention "
                f"heads have {q.shape[-1]} features (d_model / num_heads)."
            )
        if self.scaling is not None:
            return self._rotate_scaled(q, k, positions)
        where = _positions_for(q, positions, -2)           # (seq,) or (batch, 1, seq)
        rows = self._table(q, where)[where]                # (*where, rotary_dim/2, 2)
        where_k = _positions_for(k, positions, -2)         # k may have fewer heads, or its own seq
        if where_k.shape != where.shape or k.dtype != q.dtype:
            return self._turn(q, rows), self._turn(k, self._table(k, where_k)[where_k])
        return self._turn(q, rows), self._turn(k, rows)    # the rows looked up once for both
