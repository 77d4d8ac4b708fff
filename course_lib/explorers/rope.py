"""Chapter 05 explorer: one pair of features of q and k, turned by their positions.

Pair i of a query at position m is turned by m·θ_i, the same pair of a key at
position n by n·θ_i. Their dot product depends on the angle between them,
which changes by (m − n)·θ_i: move both positions together and the score
stays put; move one and it changes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .._validation import require_index, require_int
from ..rope import apply_rope, rope_inv_freq


def rope_view(m: int, n: int, pair: int = 0, head_dim: int = 16, base: float = 10000.0,
              q=(1.0, 0.3), k=(0.8, -0.5)) -> dict:
    """What the widget shows for query position ``m`` and key position ``n``.

    Returns {"theta": θ_pair (radians per position), "q": (2,) the pair of q after turning by m·θ,
    "k": (2,) the pair of k after turning by n·θ, "score": their dot product,
    "score_at_offset_only": the score with positions (m − n, 0), which equals "score"}.
    """
    require_int("m", m, minimum=0)
    require_int("n", n, minimum=0)
    theta = rope_inv_freq(head_dim, base)            # validates head_dim and base
    require_index("pair", pair, len(theta), f"one of the head_dim/2 pairs (head_dim={head_dim})")
    q, k = torch.tensor(q, dtype=torch.float64), torch.tensor(k, dtype=torch.float64)
    if q.shape != (2,) or k.shape != (2,):
        raise ValueError("q and k must each be two numbers: one pair of features.")
    def turned(pair_values, position):
        # Put the pair at features (2·pair, 2·pair + 1) of a full head vector, rotate it with the
        # library (interleaved layout), and read the pair back: the other pairs are zero and stay
        # zero.
        x = torch.zeros(1, head_dim, dtype=torch.float64)
        x[0, 2 * pair: 2 * pair + 2] = pair_values
        return apply_rope(x, torch.tensor([position]), base)[0, 2 * pair: 2 * pair + 2]

    turned_q, turned_k = turned(q, m), turned(k, n)
    return {
        "theta": theta[pair].item(),
        "q": turned_q,
        "k": turned_k,
        "score": float(turned_q @ turned_k),
        # the same angle between the pair of q and of k, with the later position moved to 0
        "score_at_offset_only": (float(turned(q, m - n) @ k) if m >= n
                                 else float(q @ turned(k, n - m))),
    }


def draw_rope(m: int, n: int, pair: int = 0, head_dim: int = 16, base: float = 10000.0):
    """The pair of q and of k as arrows, before (faint) and after turning; the score as title."""
    view = rope_view(m, n, pair, head_dim, base)
    start = rope_view(0, 0, pair, head_dim, base)  # both at position 0: the pairs before turning
    q0, k0 = start["q"], start["k"]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.add_patch(plt.Circle((0, 0), 1.1, fill=False, color="0.85"))
    for vector, colour, label in (
        (q0, "tab:blue", None),
        (k0, "tab:orange", None),
        (view["q"], "tab:blue", f"q turned by m·θ = {m}·{view['theta']:.3g}"),
        (view["k"], "tab:orange", f"k turned by n·θ = {n}·{view['theta']:.3g}"),
    ):
        faint = label is None
        ax.annotate(
            "",
            xy=(vector[0].item(), vector[1].item()),
            xytext=(0, 0),
            arrowprops=dict(
                arrowstyle="->", color=colour, lw=1.5 if faint else 3, alpha=0.3 if faint else 1
            ),
        )
        if label:
            ax.plot([], [], color=colour, lw=3, label=label)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize=10)
    ax.set_title(
        f"pair {pair}: score q·k = {view['score']:.3f}  (offset m − n = {m - n})", fontsize=13
    )
    fig.tight_layout()
    return fig
