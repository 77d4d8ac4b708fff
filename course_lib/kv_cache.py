"""Chapter 05 — decoding with a KV cache under RoPE, and positions from a padding mask.

A model that generates text runs attention for one new token at a time and keeps the keys and
values of the tokens before in a *cache*. With RoPE a key is rotated once, by its own position,
before it is stored: its position never changes, so it is never rotated again. The new query is
rotated by *its* position. Decoding token by token then gives exactly the outputs of attention
recomputed over the whole sequence.

With a batch of prompts of different lengths, the short ones are padded on the left. A padded
sequence must see the same positions as the sequence alone, so positions come from the attention
mask — ``cumsum(mask) − 1``, as HF transformers' ``generate`` does — not from ``arange(seq)``.

Single-head attention on (batch, seq, d) tensors, interleaved RoPE (``course_lib.rope``).
"""

from __future__ import annotations

import math

import torch

from ._validation import require_tensor
from .rope import apply_rope


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions of the real tokens of left-padded sequences: (batch, seq) 0/1 -> (batch, seq) long.

    ``cumsum(mask) − 1`` counts only the real tokens, so the first real token of every sequence is
    at position 0 however much padding comes before it; padded slots get position 0 (they are
    masked out of attention), as HF transformers' ``generate`` sets them.
    """
    require_tensor("attention_mask", attention_mask, min_ndim=2)
    if attention_mask.ndim != 2:
        raise ValueError("attention_mask must have shape (batch, seq), got "
                         f"{tuple(attention_mask.shape)}.")
    if not ((attention_mask == 0) | (attention_mask == 1)).all():
        raise ValueError("attention_mask must hold 1 for a real token and 0 for padding only.")
    mask = attention_mask.long()
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def _check_qkv(q, k, v, positions, attention_mask):
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_tensor(name, t, min_ndim=3, floating=True)
        if t.ndim != 3 or t.shape != q.shape:
            raise ValueError(f"q, k and v must share one shape (batch, seq, d); {name} has "
                             f"{tuple(t.shape)}, q has {tuple(q.shape)}.")
    batch, seq = q.shape[:2]
    require_tensor("positions", positions, min_ndim=1)
    if positions.shape not in ((seq,), (batch, seq)):
        raise ValueError(f"positions must have shape (seq,) = ({seq},) or (batch, seq) = "
                         f"({batch}, {seq}), got {tuple(positions.shape)}.")
    if attention_mask is None:
        attention_mask = torch.ones(batch, seq, dtype=torch.long, device=q.device)
    elif tuple(attention_mask.shape) != (batch, seq):
        raise ValueError(f"attention_mask must have shape (batch, seq) = ({batch}, {seq}), got "
                         f"{tuple(attention_mask.shape)}.")
    return positions.expand(batch, seq), attention_mask.bool()


def rope_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, positions: torch.Tensor,
                   attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Causal single-head attention with RoPE over whole sequences, every row at once.

    q, k, v (batch, seq, d), not yet rotated; positions (seq,) or (batch, seq); attention_mask
    (batch, seq), 1 for a real token, 0 for padding (padded keys get no weight). Returns (batch,
    seq, d); rows of padded queries are meaningless.
    """
    positions, mask = _check_qkv(q, k, v, positions, attention_mask)
    q_rot, k_rot = apply_rope(q, positions), apply_rope(k, positions)
    scores = q_rot @ k_rot.mT / math.sqrt(q.shape[-1])              # (batch, seq, seq)
    seq = q.shape[1]
    allowed = torch.ones(seq, seq, dtype=torch.bool, device=q.device).tril() & mask[:, None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(dim=-1).nan_to_num(0.0)                 # a fully masked row -> 0
    return weights @ v


def decode_with_cache(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, positions: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The same outputs as ``rope_attention``, computed one token at a time with a KV cache.

    Step t rotates key t once, by its position, and appends it (and value t, never rotated) to the
    cache; query t, rotated by its own position, attends over the cache. Shapes as
    ``rope_attention``; returns (batch, seq, d).
    """
    positions, mask = _check_qkv(q, k, v, positions, attention_mask)
    batch, seq, d = q.shape
    cache_k, cache_v = q.new_zeros(batch, 0, d), q.new_zeros(batch, 0, d)
    outputs = []
    for t in range(seq):
        where = positions[:, t : t + 1]                                 # (batch, 1)
        cache_k = torch.cat((cache_k, apply_rope(k[:, t : t + 1], where)), dim=1)  # rotated once
        cache_v = torch.cat((cache_v, v[:, t : t + 1]), dim=1)
        scores = apply_rope(q[:, t : t + 1], where) @ cache_k.mT / math.sqrt(d)   # (batch, 1, t+1)
        scores = scores.masked_fill(~mask[:, None, : t + 1], float("-inf"))
        outputs.append(torch.softmax(scores, dim=-1).nan_to_num(0.0) @ cache_v)
    return torch.cat(outputs, dim=1)
