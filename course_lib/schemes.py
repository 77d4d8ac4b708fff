"""The plug every position scheme fits into, and the empty plug.

A scheme may act in three places (see ``course_lib.attention``); the base
class does nothing in all three, so a scheme overrides only what it uses:

    embed(x, positions)          x (batch, seq, d_token) -> (batch, seq, d_token + extra_dims)
    rotate(q, k, positions)      q, k (batch, heads, seq, head_dim) -> same shapes
    attention_bias(seq_len)      None or a tensor broadcastable to (batch, heads, seq, seq)
    query_bias(q, positions)     None or a logit term that depends on the queries (Shaw et al.'s
                                 relative keys, ch. 06): q (batch, heads, seq, head_dim) ->
                                 broadcastable to (batch, heads, seq, seq), added with the bias

``positions`` is the (seq,) tensor 0, 1, ..., seq-1; a 2-D scheme (ch. 08) sets
``grid_positions = True`` and receives instead the (seq, 2) tensor of each token's (row, col).
"""

from __future__ import annotations

import torch
from torch import nn


class PositionScheme(nn.Module):
    """Base class: contributes no position information anywhere."""

    #: How many feature dimensions ``embed`` appends (concatenating schemes).
    extra_dims: int = 0
    #: True for a 2-D scheme: its ``positions`` are (seq, 2) (row, col), not the raster index.
    grid_positions: bool = False

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return x

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        return q, k

    def attention_bias(self, seq_len: int) -> torch.Tensor | None:
        return None

    def query_bias(self, q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor | None:
        return None


class NoPositions(PositionScheme):
    """No position information at all: the model sees a bag of tokens."""
