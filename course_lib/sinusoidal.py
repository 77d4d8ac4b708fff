"""Chapter 03 — sinusoidal position encodings ("Attention Is All You Need", section 3.5).

    PE(p, 2i)   = sin(p · ω_i)
    PE(p, 2i+1) = cos(p · ω_i),      ω_i = base^(−2i/d),  i = 0 .. d/2 − 1

Each pair (2i, 2i+1) is a clock hand turning at angular speed ω_i: one turn
every 2π/ω_i positions, from 2π (i = 0) up to nearly base·2π (i = d/2 − 1).
Because a pair is (sin, cos) of the same angle, moving k positions on is a
2×2 rotation by k·ω_i — the same rotation for every p — which is why
PE(p + k) = M_k · PE(p) and why PE(p)·PE(p + k) = Σ_i cos(k·ω_i) depends on k only.

Layouts (same numbers, different order of the features):
    "interleaved"  sin, cos, sin, cos, ...       the paper, DistilBERT/XLM
    "half_split"   sin ... sin ‖ cos ... cos     Marian
tensor2tensor / fairseq / Whisper use the half-split layout *and a different exponent*,
ω_i = base^(−i/(d/2 − 1)): see ``tensor2tensor_sinusoidal_table``.

Why "half_split": it is the one name every course_lib module uses for this split (RoPE's pairs
(i, i + d/2) are the same idea, so ``course_lib.rope`` uses it too). It says what happens — the
features are split into a first half and a second half — as the course spec says it; "half" reads
as float16, "neox" names one model rather than a layout (Marian's table has it too), and HF's
``rotate_half`` names an operation on this layout, not the layout. The old names "halves" and
"half" raise a ValueError that gives the new one.
"""

from __future__ import annotations

import copy
import math

import torch

from ._validation import (
    require_choice,
    require_even,
    require_int,
    require_layout,
    require_positive_float,
)
from .attention import TinyTransformer
from .rope import rope_inv_freq
from .schemes import PositionScheme


def sinusoid_frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(d_model/2,) angular frequencies ω_i = base^(−2i/d_model), from 1 down to nearly 1/base.

    A thin alias of ``rope_inv_freq``: RoPE (chapter 05) turns its pairs with these same clocks.
    Only the name of the width differs, so bad input is reported as ``d_model``.
    """
    require_even("d_model", d_model, minimum=2)
    return rope_inv_freq(d_model, base)


def _angles(num_positions: int, frequencies: torch.Tensor) -> torch.Tensor:
    # (num_positions, d/2) angles p·ω_i, in float64 so that p = 10^5 keeps its digits.
    return torch.arange(num_positions, dtype=torch.float64)[:, None] * frequencies[None, :]


def _table(num_positions: int, frequencies: torch.Tensor, layout: str) -> torch.Tensor:
    """``sinusoidal_table`` without its checks, for any (d/2,) frequencies: (num_positions, d)."""
    angles = _angles(num_positions, frequencies)
    if layout == "half_split":
        return torch.cat([angles.sin(), angles.cos()], dim=-1).float()  # sin … sin ‖ cos … cos
    table = torch.empty(num_positions, 2 * len(frequencies), dtype=torch.float64)
    table[:, 0::2] = angles.sin()  # PE(p, 2i)   = sin(p·ω_i)
    table[:, 1::2] = angles.cos()  # PE(p, 2i+1) = cos(p·ω_i)
    return table.float()


def sinusoidal_table(num_positions: int, d_model: int, base: float = 10000.0,
                     layout: str = "interleaved") -> torch.Tensor:
    """(num_positions, d_model) float32 table; row p is the encoding of position p.

    layout="interleaved": sin at even features, cos at odd (the paper).
    layout="half_split": all sines, then all cosines (the same frequencies).
    """
    require_int("num_positions", num_positions, minimum=1)
    layout = require_layout(layout)
    return _table(num_positions, sinusoid_frequencies(d_model, base), layout)


def tensor2tensor_sinusoidal_table(num_positions: int, d_model: int,
                                   base: float = 10000.0) -> torch.Tensor:
    """(num_positions, d_model) [sin ‖ cos] with ω_i = base^(−i/(d/2 − 1)), as tensor2tensor has it.

    The same table as fairseq's and Whisper's. Its slowest clock is exactly 1/base (the paper's
    stops at base^(−(d−2)/d)). fairseq also starts counting positions at padding_idx + 1; this
    table starts at 0.
    """
    require_even("d_model", d_model, minimum=4)
    require_int("num_positions", num_positions, minimum=1)
    require_positive_float("base", base)
    half = d_model // 2
    frequencies = torch.exp(-math.log(base) / (half - 1) * torch.arange(half, dtype=torch.float64))
    return _table(num_positions, frequencies, "half_split")


def half_split_permutation(d_model: int) -> torch.Tensor:
    """(d_model,) indices P = [0, 2, 4, …, 1, 3, 5, …]: half_split table == interleaved table[:, P].

    The same P relates RoPE's two layouts: half_split(x[..., P]) == interleaved(x)[..., P].
    """
    require_even("d_model", d_model, minimum=2)
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def offset_rotation(offset: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(d_model, d_model) matrix M_k with PE(p + k) = M_k @ PE(p) for every p (interleaved layout).

    Block-diagonal: pair i is rotated by the angle k·ω_i,
        [sin(a + b)]   [ cos b   sin b] [sin a]
        [cos(a + b)] = [−sin b   cos b] [cos a],    a = p·ω_i, b = k·ω_i.
    M_k depends on k only, never on p. offset may be negative (move back).
    """
    offset = require_int("offset", offset)
    b = offset * sinusoid_frequencies(d_model, base)
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    m[0::2, 0::2] = torch.diag(b.cos())
    m[0::2, 1::2] = torch.diag(b.sin())
    m[1::2, 0::2] = torch.diag(-b.sin())
    m[1::2, 1::2] = torch.diag(b.cos())
    return m.float()


class SinusoidalPositions(PositionScheme):
    """Add (or concatenate) the sinusoidal table. x (batch, seq, d_token) -> (batch, seq, d_model).

    dim: width of the table. combine="add": x + PE (dim must equal x's width);
    combine="concat": [x ‖ PE], so the model's d_model = d_token + dim.
    token_scale: multiply the token embeddings first (the paper uses √d_model).
    """

    def __init__(self, dim: int, base: float = 10000.0, layout: str = "interleaved",
                 combine: str = "add", token_scale: float = 1.0):
        super().__init__()
        self.dim = require_even("dim", dim, minimum=2)
        self.base = require_positive_float("base", base)
        self.layout = require_layout(layout)
        self.combine = require_choice("combine", combine, ("add", "concat"))
        self.token_scale = require_positive_float("token_scale", token_scale)
        self.extra_dims = dim if combine == "concat" else 0
        self.frequencies = sinusoid_frequencies(dim, base)  # ω_i, computed once

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        table = _table(len(positions), self.frequencies, self.layout).to(x.dtype)  # (seq, dim)
        table = table[None].expand(x.shape[0], -1, -1)  # (batch, seq, dim)
        x = x * self.token_scale
        if self.combine == "concat":
            return torch.cat([x, table], dim=-1)
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"combine='add' needs the table width ({self.dim}) to equal the token width "
                f"({x.shape[-1]})."
            )
        return x + table


def permute_residual_stream(model: TinyTransformer, order) -> TinyTransformer:
    """A copy of ``model`` whose residual stream is reordered: new feature j = old feature order[j].

    model: a ``TinyTransformer`` whose position scheme adds to the tokens (no concatenated
    features, no parameters). order: (d_model,) a permutation of 0 .. d_model − 1.

    Every layer that *writes* the stream (token embedding, attention ``proj``, the MLP's second
    layer) has its output rows reordered; every layer that *reads* it (``qkv``, the MLP's first
    layer, ``head``) its input columns; every LayerNorm's γ and β follow the features (its mean and
    variance do not depend on their order). The position scheme is not touched: the copy computes
    the old model's outputs exactly when the vector its scheme adds is reordered the same way —
    which is how a checkpoint moves between the interleaved and half-split tables
    (``convert_layout``). Reordering only the first layer that reads the stream is *not* enough:
    the sum token + position passes through LayerNorm, whose γ and β, and the residual path
    around each block, still expect the old order.
    """
    if not isinstance(model, TinyTransformer):
        raise ValueError(f"model must be a TinyTransformer, got {type(model).__name__}.")
    d_model = model.ln_final.normalized_shape[0]
    if model.position.extra_dims or any(True for _ in model.position.parameters()):
        raise ValueError(
            "permute_residual_stream needs a position scheme that adds a fixed vector to the "
            "tokens (no concatenated features, no parameters); "
            f"got {type(model.position).__name__}."
        )
    order = torch.as_tensor(order)
    if order.dtype.is_floating_point or order.shape != (d_model,) or not torch.equal(
            order.sort().values, torch.arange(d_model, device=order.device)):
        raise ValueError(
            f"order must hold each of 0 .. {d_model - 1} once (a permutation of the model's "
            f"{d_model} features), got {order.tolist()}."
        )
    new = copy.deepcopy(model)
    with torch.no_grad():
        new.token_embedding.weight.copy_(model.token_embedding.weight[:, order])   # writes
        for old, block in zip(model.blocks, new.blocks):
            for norm in ("ln_attn", "ln_mlp"):
                getattr(block, norm).weight.copy_(getattr(old, norm).weight[order])
                getattr(block, norm).bias.copy_(getattr(old, norm).bias[order])
            block.attn.qkv.weight.copy_(old.attn.qkv.weight[:, order])              # reads
            block.attn.proj.weight.copy_(old.attn.proj.weight[order])               # writes
            block.attn.proj.bias.copy_(old.attn.proj.bias[order])
            block.mlp.net[0].weight.copy_(old.mlp.net[0].weight[:, order])          # reads
            block.mlp.net[-1].weight.copy_(old.mlp.net[-1].weight[order])           # writes
            block.mlp.net[-1].bias.copy_(old.mlp.net[-1].bias[order])
        new.ln_final.weight.copy_(model.ln_final.weight[order])
        new.ln_final.bias.copy_(model.ln_final.bias[order])
        new.head.weight.copy_(model.head.weight[:, order])                          # reads
    return new


def convert_layout(model: TinyTransformer, to: str) -> TinyTransformer:
    """A copy of a model trained with an added sinusoidal table, for the table in layout ``to``.

    model: a ``TinyTransformer`` whose position is ``SinusoidalPositions(..., combine="add")``.
    to: "interleaved" or "half_split". The copy adds the ``to`` table and has its whole residual
    stream reordered to match (``permute_residual_stream``), so it computes the same outputs.
    """
    to = require_layout(to)
    position = model.position if isinstance(model, TinyTransformer) else None
    if not isinstance(position, SinusoidalPositions) or position.combine != "add":
        raise ValueError("convert_layout needs a TinyTransformer with an added sinusoidal table "
                         "(SinusoidalPositions(..., combine='add')).")
    perm = half_split_permutation(position.dim)         # half_split = interleaved[:, perm]
    order = {("interleaved", "half_split"): perm, ("half_split", "interleaved"): perm.argsort()}
    new = permute_residual_stream(model, order.get((position.layout, to), perm.sort().values))
    new.position = SinusoidalPositions(position.dim, position.base, layout=to,
                                       token_scale=position.token_scale)
    return new


def four_term_logits(model: TinyTransformer, tokens: torch.Tensor,
                     layer: int = 0) -> dict[str, torch.Tensor]:
    """Split one layer's attention logits into content and position parts (Transformer-XL §3.3).

    model: a ``TinyTransformer`` whose position scheme adds a table (no concatenation, no
    rotation, no bias); tokens (batch, seq) int64; layer: which block (only the first block's
    input is token + table, so layer 0 is the one the split is about).
    Returns {"content-content", "content-position", "position-content", "position-position"},
    each (batch, heads, seq, seq), whose sum is the layer's logits q kᵀ/√d_head exactly.

    The block's input is LayerNorm(e + p). LayerNorm subtracts each row's mean (linear) and divides
    by one number σ per row, so LN(e + p) = [γ⊙c(e)/σ + β] + [γ⊙c(p)/σ]: a content part (with β
    and the projection's bias) plus a position part, and q = q_e + q_p, k = k_e + k_p.
    """
    if not isinstance(model, TinyTransformer):
        raise ValueError(f"model must be a TinyTransformer, got {type(model).__name__}.")
    layer = require_int("layer", layer, minimum=0)
    if layer >= len(model.blocks):
        raise ValueError(f"layer must be below the model's {len(model.blocks)} layers, "
                         f"got {layer}.")
    scheme = type(model.position)
    if model.position.extra_dims or scheme.rotate is not PositionScheme.rotate or (
            scheme.attention_bias is not PositionScheme.attention_bias):
        raise ValueError("four_term_logits needs a position scheme that adds a vector to the "
                         f"tokens (no concatenation, rotation or bias); got {scheme.__name__}.")
    seq = tokens.shape[-1]
    positions = torch.arange(seq, device=tokens.device)
    with torch.no_grad():
        e = model.token_embedding(tokens) * getattr(model.position, "token_scale", 1.0)
        p = model.position.embed(torch.zeros_like(e), positions)   # the table alone
        x = e + p
        for block in model.blocks[:layer]:          # later layers: the residual stream so far
            x = block(x, model.position, positions)
            e = x - p                               # everything but the table counts as content
        norm, attn = model.blocks[layer].ln_attn, model.blocks[layer].attn
        sigma = (x.var(-1, unbiased=False, keepdim=True) + norm.eps).sqrt()       # (batch, seq, 1)
        parts = {"content": norm.weight * (e - e.mean(-1, keepdim=True)) / sigma + norm.bias,
                 "position": norm.weight * (p - p.mean(-1, keepdim=True)) / sigma}
        d = x.shape[-1]
        w_q, w_k = attn.qkv.weight[:d], attn.qkv.weight[d:2 * d]
        b_q, b_k = attn.qkv.bias[:d], attn.qkv.bias[d:2 * d]

        def heads(t):                                # (batch, seq, d) -> (batch, heads, seq, hd)
            return t.view(*t.shape[:2], attn.num_heads, d // attn.num_heads).transpose(1, 2)

        q = {name: heads(part @ w_q.T + (b_q if name == "content" else 0))
             for name, part in parts.items()}
        k = {name: heads(part @ w_k.T + (b_k if name == "content" else 0))
             for name, part in parts.items()}
        scale = math.sqrt(d // attn.num_heads)
        return {f"{a}-{b}": q[a] @ k[b].transpose(-2, -1) / scale for a in parts for b in parts}
