"""Chapter 06 — relative position biases (Shaw et al., 2018; T5, Raffel et al., 2020).

Shaw et al. learn a vector a_r per clipped offset r = clip(j − i, −k, k) and add it to the key
inside the score (``shaw_relative_logits``, ``ShawRelativeKeys``):

    logit_ij = q_i · (k_j + a_clip(j−i)) / √d

Instead of telling each token where it is, add a number to every attention
logit that depends on the offset between query i and key j:

    logit_ij = q_i · k_j / √d + b_h[bucket(j − i)]

T5 learns one scalar per (bucket, head). Offsets are bucketed: small ones get a
bucket each, larger ones share logarithmically wider buckets up to
``max_distance``, and everything beyond shares the last bucket — so any length
can be looked up, but far offsets all look alike.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import require_int, require_tensor
from .schemes import PositionScheme


def shaw_relative_logits(q: torch.Tensor, relative_keys: torch.Tensor, clip: int) -> torch.Tensor:
    """Shaw et al.'s score term q_i · a_clip(j−i) / √d.

    q (..., seq, d); relative_keys (2·clip + 1, d), row r + clip holding a_r for offsets
    r = −clip..clip -> (..., seq, seq). Offsets beyond ±clip share the end rows: the model cannot
    tell them apart.
    """
    require_tensor("q", q, min_ndim=2, floating=True)
    require_int("clip", clip, minimum=0)
    if relative_keys.shape != (2 * clip + 1, q.shape[-1]):
        raise ValueError(
            f"relative_keys must have shape (2·clip + 1, d) = ({2 * clip + 1}, {q.shape[-1]}), "
            f"got {tuple(relative_keys.shape)}."
        )
    seq = q.shape[-2]
    positions = torch.arange(seq, device=q.device)
    offsets = (positions[None, :] - positions[:, None]).clamp(-clip, clip) + clip  # (seq, seq)
    # q_i · a_r for every query and each of the 2·clip + 1 vectors, then entry (i, j) picks r =
    # clip(j − i): cheaper than building a (seq, seq, d) tensor of vectors
    per_offset = q @ relative_keys.to(q.dtype).T                        # (..., seq, 2·clip + 1)
    index = offsets.expand(*q.shape[:-2], seq, seq)
    return per_offset.gather(-1, index) / math.sqrt(q.shape[-1])


class ShawRelativeKeys(PositionScheme):
    """Shaw et al. (2018): a learned vector per clipped offset, shared by the heads, added to the
    keys inside every score (their relative *value* term is left out)."""

    def __init__(self, head_dim: int, clip: int):
        super().__init__()
        self.head_dim = require_int("head_dim", head_dim, minimum=1)
        self.clip = require_int("clip", clip, minimum=0)
        # Shaw et al. initialise like the other weights; small normal numbers here.
        self.relative_keys = nn.Parameter(torch.randn(2 * clip + 1, head_dim) * head_dim**-0.5)

    def query_bias(self, q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """q (batch, heads, seq, head_dim) -> (batch, heads, seq, seq)."""
        return shaw_relative_logits(q, self.relative_keys, self.clip)


def t5_relative_position_bucket(
    relative_position: torch.Tensor,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> torch.Tensor:
    """Bucket index of each offset (key position − query position), as T5: same shape, int64, in [0,
    num_buckets).

    With ``bidirectional``, half the buckets are for keys after the query (offset > 0). Of the
    buckets for one direction, the first half are exact offsets 0, 1, ...; the rest cover up to
    ``max_distance`` on a log scale. Without it (decoders), keys after the query all fall in bucket
    0 (a causal mask hides them anyway).
    """
    require_tensor("relative_position", relative_position)
    if relative_position.is_floating_point():
        raise ValueError(
            "relative_position must hold whole-number offsets, got dtype "
            f"{relative_position.dtype}."
        )
    require_int("num_buckets", num_buckets, minimum=4 if bidirectional else 2)
    require_int("max_distance", max_distance, minimum=1)
    relative_position = relative_position.long()
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        # the second half: keys after the query
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        # only keys before the query count
        distance = (-relative_position).clamp(min=0)
    max_exact = num_buckets // 2
    if max_distance <= max_exact:
        raise ValueError(
            f"max_distance ({max_distance}) must exceed the {max_exact} exact buckets per "
            "direction."
        )
    is_small = distance < max_exact
    # log-spaced: offsets max_exact .. max_distance share the remaining num_buckets - max_exact
    # buckets
    log_ratio = torch.log(distance.clamp(min=1).float() / max_exact) / math.log(
        max_distance / max_exact
    )
    if_large = (max_exact + (log_ratio * (num_buckets - max_exact)).long()).clamp(
        max=num_buckets - 1
    )
    return buckets + torch.where(is_small, distance, if_large)


class T5RelativeBias(PositionScheme):
    """A learned scalar per (bucket, head) added to the attention logits; no position enters the
    token vectors."""

    def __init__(
        self,
        num_heads: int,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
        init_std: float = 1.0,
    ):
        super().__init__()
        self.num_heads = require_int("num_heads", num_heads, minimum=1)
        self.num_buckets = require_int("num_buckets", num_buckets, minimum=4)
        self.max_distance = require_int("max_distance", max_distance, minimum=1)
        self.bidirectional = bool(bidirectional)
        self.bias = nn.Embedding(num_buckets, num_heads)
        # nn.Embedding starts at N(0, 1); HF's T5 starts at N(0, factor·d_model^−0.5). Buckets that
        # training never reaches keep whatever they started with (chapter 06 measures it).
        if init_std <= 0:
            raise ValueError(f"init_std must be positive, got {init_std}.")
        with torch.no_grad():
            self.bias.weight.mul_(init_std)
        t5_relative_position_bucket(
            torch.zeros(1, dtype=torch.long), self.bidirectional, num_buckets, max_distance
        )

    def attention_bias(self, seq_len: int) -> torch.Tensor:
        """(1, heads, seq, seq): entry (h, i, j) is the learned bias of head h for offset j − i."""
        positions = torch.arange(seq_len, device=self.bias.weight.device)
        buckets = t5_relative_position_bucket(
            positions[None, :] - positions[:, None],
            self.bidirectional,
            self.num_buckets,
            self.max_distance,
        )
        return self.bias(buckets).permute(2, 0, 1)[None]
