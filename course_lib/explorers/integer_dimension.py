"""Chapter 01 explorer: slide the sequence length, watch the raw index take over.

One plain self-attention layer (seeded random weights) reads random tokens
with their index appended. As the length grows, the input norms grow like n,
the attention logits like n², and the last token's attention row collapses
onto a single key.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from .._validation import require_int
from ..attention import SelfAttention, attention_entropy
from ..integer_position import IntegerPosition
from ..schemes import NoPositions


def integer_dimension_view(seq_len: int, d_model: int = 32, seed: int = 0) -> dict:
    """What the widget shows for one length.

    Returns {"feature_norm": (seq_len,) norm of each input vector,
    "last_row": (seq_len,) the last token's attention weights,
    "max_logit": largest |attention logit|, "entropy": entropy of the last
    row (nats), "log_n": entropy of a uniform row}.
    """
    require_int("seq_len", seq_len, minimum=2)
    require_int("d_model", d_model, minimum=3)
    torch.manual_seed(seed)
    layer = SelfAttention(d_model)
    gen = torch.Generator().manual_seed(seed)
    positions = torch.arange(seq_len)
    x = IntegerPosition("concat").embed(
        torch.randn(1, seq_len, d_model - 1, generator=gen), positions
    )
    with torch.no_grad():
        layer(x, NoPositions(), positions)
        logits = layer.logits(x)
    last_row = layer.last_weights[0, 0, -1]
    return {
        "feature_norm": x[0].norm(dim=-1),
        "last_row": last_row,
        "max_logit": logits.abs().max().item(),
        "entropy": attention_entropy(last_row).item(),
        "log_n": math.log(seq_len),
    }


def draw_integer_dimension(seq_len: int, d_model: int = 32, seed: int = 0):
    """Input norms by position, and the last token's attention row, for one length."""
    view = integer_dimension_view(seq_len, d_model, seed)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    left.plot(view["feature_norm"].numpy())
    left.set(xlabel="position p", ylabel="‖x_p‖")
    left.set_title(f"input norms (largest {view['feature_norm'].max():.0f})")
    right.bar(range(seq_len), view["last_row"].numpy(), width=1.0)
    right.set_ylim(0, 1.05)
    right.set(xlabel="key position j", ylabel="weight")
    right.set_title(
        f"last token's attention: entropy {view['entropy']:.2f} of max {view['log_n']:.2f}"
    )
    fig.suptitle(f"n = {seq_len}: largest |logit| = {view['max_logit']:.3g}", fontsize=16)
    fig.tight_layout()
    return fig
