"""Chapter 06 explorer: ALiBi's slopes and bias for a head count and a length; T5's bucket for an
offset.

ALiBi's slopes follow the paper's recipe for any head count (a non-power of two mixes two
ladders, so the list is not monotone); each head's bias is −slope·|i − j|. T5 maps an offset to a
bucket: exact near 0, log-spaced up to max_distance, one shared bucket beyond.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .._validation import require_int
from ..alibi import alibi_bias, alibi_slopes
from ..relative_bias import t5_relative_position_bucket


def relative_positions_view(num_heads: int = 8, seq_len: int = 16, offset: int = 20,
                            num_buckets: int = 32, max_distance: int = 128) -> dict:
    """What the widget shows.

    Returns {"slopes": (num_heads,) ALiBi slopes, "monotone": whether they fall head after head,
    "bias": (num_heads, seq_len, seq_len) ALiBi bias, "offset": the offset asked for,
    "bucket_bidirectional" and "bucket_causal": its T5 bucket each way, "offsets": (−range..range)
    offsets around it and "buckets_bidirectional", "buckets_causal": their buckets, for the plot}.
    """
    require_int("num_heads", num_heads, minimum=1)
    require_int("seq_len", seq_len, minimum=1)
    require_int("offset", offset)
    slopes = alibi_slopes(num_heads)
    reach = max(2 * max_distance, abs(offset) + 10)
    offsets = torch.arange(-reach, reach + 1)
    buckets = {kind: t5_relative_position_bucket(offsets, kind == "bidirectional", num_buckets,
                                                 max_distance)
               for kind in ("bidirectional", "causal")}
    one = torch.tensor([offset])
    return {
        "slopes": slopes,
        "monotone": bool((slopes[1:] <= slopes[:-1]).all()),
        "bias": alibi_bias(num_heads, seq_len),
        "offset": offset,
        "bucket_bidirectional": int(t5_relative_position_bucket(one, True, num_buckets,
                                                                max_distance)),
        "bucket_causal": int(t5_relative_position_bucket(one, False, num_buckets, max_distance)),
        "offsets": offsets,
        "buckets_bidirectional": buckets["bidirectional"],
        "buckets_causal": buckets["causal"],
    }


def draw_relative_positions(num_heads: int = 8, seq_len: int = 16, offset: int = 20):
    """Left: ALiBi's slopes by head. Middle: the bias of the first and last head. Right: T5's
    bucket against the offset (both directions), the chosen offset marked."""
    view = relative_positions_view(num_heads, seq_len, offset)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    axes[0].plot(range(1, num_heads + 1), view["slopes"].tolist(), "o-")
    axes[0].set(xlabel="head", ylabel="slope", yscale="log",
                title=f"{num_heads} heads: {'monotone' if view['monotone'] else 'not monotone'}")
    for ax, head in zip(axes[1:3], (0, num_heads - 1)):
        ax.imshow(view["bias"][head].numpy(), cmap="viridis")
        ax.set(xlabel="key j", ylabel="query i",
               title=f"head {head + 1}: −{view['slopes'][head]:.3g}·|i − j|")
    for kind, style in (("bidirectional", "-"), ("causal", "--")):
        axes[3].plot(view["offsets"].numpy(), view[f"buckets_{kind}"].numpy(), style, label=kind)
    axes[3].axvline(offset, color="gray", linestyle=":")
    axes[3].set(xlabel="offset j − i", ylabel="T5 bucket",
                title=f"offset {offset}: bucket {view['bucket_bidirectional']} "
                      f"(causal: {view['bucket_causal']})")
    axes[3].legend(fontsize=9)
    fig.tight_layout()
    return fig
