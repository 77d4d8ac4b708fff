"""Chapter 06 — ALiBi: attention with linear biases (Press, Smith & Lewis, 2022).

No learned position parameters at all: head h subtracts a fixed slope m_h times
the distance from every logit,

    logit_ij = q_i · k_j / √d − m_h · |i − j|

(causal models only see j <= i, where |i − j| = i − j). The slopes form a
geometric sequence, so some heads look far and others only nearby. For 2^k
heads: m_h = 2^(−8h/2^k), h = 1..2^k. Other head counts take the slopes of the
nearest lower power of two, then every other slope of the next power up.
"""

from __future__ import annotations

import math

import torch

from ._validation import require_int
from .schemes import PositionScheme


def _power_of_two_slopes(n: int) -> list[float]:
    # 2^(-8/n), then its powers: a geometric sequence ending at 2^-8
    start = 2 ** (-8 / n)
    return [start ** (h + 1) for h in range(n)]


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """(num_heads,) float32 slopes m_h, as in the ALiBi paper and its code, for any head count."""
    require_int("num_heads", num_heads, minimum=1)
    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = _power_of_two_slopes(closest)
    if closest < num_heads:
        # The paper's recipe for other counts: interleave in the slopes of twice as many heads.
        slopes += _power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(num_heads: int, seq_len: int, causal: bool = False,
               device: torch.device | str | None = None) -> torch.Tensor:
    """(num_heads, seq_len, seq_len) float32 on ``device`` (default CPU): −m_h·|i − j|.

    With ``causal``, keys after the query get 0 (the causal mask hides them anyway).
    """
    require_int("seq_len", seq_len, minimum=1)
    positions = torch.arange(seq_len, device=device)
    distance = (positions[:, None] - positions[None, :]).abs().float()
    if causal:
        distance = distance.tril()
    return -alibi_slopes(num_heads).to(distance.device)[:, None, None] * distance


class ALiBiPositions(PositionScheme):
    """ALiBi as a course position scheme: a fixed linear distance penalty per head, not learned."""

    def __init__(self, num_heads: int):
        super().__init__()
        self.num_heads = require_int("num_heads", num_heads, minimum=1)
        # not a parameter, but it moves with the model (.to(device)); not saved in state_dict
        self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)

    def attention_bias(self, seq_len: int) -> torch.Tensor:
        """(1, heads, seq, seq) on the model's device."""
        positions = torch.arange(seq_len, device=self.slopes.device)
        distance = (positions[:, None] - positions[None, :]).abs().to(self.slopes.dtype)
        return (-self.slopes[:, None, None] * distance)[None]
