"""Chapter 07 explorer: one context-extension method and factor -> each pair's wavelength before
and after, with the training length marked.

A pair's wavelength λ_i = 2π/θ_i is how many positions it takes to turn once. A pair whose λ is
below the training length L0 has turned at least once in training; one whose λ is far above it
has only seen a small arc. Llama 3 and YaRN keep the first kind and divide the second by the
factor (``course_lib.rope_scaling.pair_regions``).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from ..rope_scaling import pair_regions, scaled_rope_inv_freq

#: the widget's methods, with the settings each needs (Llama 3.1's low/high_freq_factor)
METHODS = {"linear": {}, "ntk": {}, "llama3": {"low_freq_factor": 1.0, "high_freq_factor": 4.0},
           "yarn": {}}


def context_extension_view(kind: str = "llama3", factor: float = 4.0, head_dim: int = 16,
                           base: float = 10000.0, original_max_len: int = 16) -> dict:
    """What the widget shows.

    Returns {"before", "after": (head_dim/2,) wavelengths 2π/θ_i and 2π/θ'_i in positions (float64),
    "turns": (head_dim/2,) turns r_i = L0/λ_i each pair makes within L0, "regions": per pair
    "kept" / "blended" / "divided" (for "ntk", which moves every pair its own way: "changed" or
    "kept"), "attention_factor": the method's factor on cos and sin, "original_max_len": L0,
    "new_len": factor·L0}. ``kind`` is one of ``METHODS``.
    """
    if kind not in METHODS:
        raise ValueError(f"kind must be one of {', '.join(METHODS)} (the widget's methods), "
                         f"got {kind!r}.")
    params = METHODS[kind]
    plain, _ = scaled_rope_inv_freq(head_dim, base, "none", factor, original_max_len,
                                    dtype=torch.float64)
    scaled, attention = scaled_rope_inv_freq(head_dim, base, kind, factor, original_max_len,
                                             dtype=torch.float64, **params)
    if kind == "ntk":
        regions = tuple("kept" if a == b else "changed"
                        for a, b in zip(plain.tolist(), scaled.tolist()))
    else:
        regions = pair_regions(head_dim, base, kind, factor, original_max_len, **params)
    return {"before": 2 * math.pi / plain, "after": 2 * math.pi / scaled,
            "turns": original_max_len * plain / (2 * math.pi), "regions": regions,
            "attention_factor": attention, "original_max_len": original_max_len,
            "new_len": factor * original_max_len}


_COLOURS = {"kept": "C2", "blended": "C1", "divided": "C3", "changed": "C0"}


def draw_context_extension(kind: str = "llama3", factor: float = 4.0, head_dim: int = 16,
                           base: float = 10000.0, original_max_len: int = 16, ax=None,
                           legend: bool = True):
    """Wavelength per pair (log scale) before (grey) and after (coloured by region), the training
    length L0 and the new length s·L0 as horizontal lines; ``legend=False`` leaves the legend out
    (a grid of panels). Returns the axes."""
    view = context_extension_view(kind, factor, head_dim, base, original_max_len)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    pairs = range(head_dim // 2)
    ax.plot(pairs, view["before"].tolist(), "o-", color="0.6", label="before (plain RoPE)")
    ax.plot(pairs, view["after"].tolist(), "--", color="0.3", linewidth=1)
    for i, region in enumerate(view["regions"]):
        ax.plot(i, view["after"][i].item(), "s", color=_COLOURS[region], markersize=8,
                label=f"after: {region}")
    ax.axhline(original_max_len, color="k", linestyle=":",
               label=f"training length {original_max_len}")
    ax.axhline(view["new_len"], color="k", linestyle="-.", linewidth=1,
               label=f"new length {view['new_len']:g}")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if legend:
        ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set(yscale="log", xlabel="pair i (0 = fastest)", ylabel="wavelength 2π/θ (positions)",
           title=f"{kind}, factor {factor:g}, base {base:g}, L0 = {original_max_len}"
                 f" (attention factor {view['attention_factor']:.3f})")
    return ax
