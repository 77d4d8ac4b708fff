"""The course's running scorecard: one row per position scheme, added by the chapter that measures
it.

Each chapter ends with ``summary_table(chapter)``, which shows every row up
to and including that chapter, so the table grows as the course goes on.
A row's entries are backed by assertions in the chapter named in its first
column; keep them in sync when a chapter's measurements change.
"""

from __future__ import annotations

from ._validation import require_int

COLUMNS = (
    "chapter",
    "scheme",
    "bounded?",
    "unique per position?",
    "same value at every length?",
    "relative offsets easy?",
    "extrapolates past training length?",
    "parameters",
)

ROWS = (
    # (chapter, scheme, bounded?, unique per position?, same value at every length?,
    #  relative offsets easy?, extrapolates past training length?, parameters)
    (
        0,
        "none (bag of tokens)",
        "—",
        "no: every position looks alike",
        "—",
        "no",
        "— (nothing to extrapolate)",
        "0",
    ),
    (
        1,
        "integer index, concatenated",
        "no: up to n−1; logits ∝ n²",
        "raw yes; after LayerNorm late positions collapse",
        "yes",
        "no: logits mix p_i·p_j",
        "ch. 07 (trained at 8): copy-first kept at n = 64; copy-3-back lost past position 7",
        "0, but one feature of width",
    ),
    (
        1,
        "integer index, added to every feature",
        "no",
        "yes, but LayerNorm erases it",
        "yes",
        "no",
        "—",
        "0",
    ),
    (
        2,
        "p/(n−1), concatenated",
        "yes: [0, 1]",
        "yes, but neighbours only 1/(n−1) apart",
        "no: index 3 is 0.2 at n=16, 0.097 at n=32",
        "no: one number gives straight-line logits",
        "no: trained at 16, near chance at 8, 32 and 64; trained at 8–32, below 0.6 even there",
        "0",
    ),
    (
        2,
        "p/max_len, concatenated",
        "only up to n = max_len",
        "yes, 1/max_len apart",
        "yes",
        "no: one number gives straight-line logits",
        "no: mostly right on trained positions (a few % lower on shorter sequences), chance past "
        "them; training at 8–32 moves the wall to 32",
        "0",
    ),
    (
        3,
        "sinusoids, added",
        "yes: [−1, 1], every row of norm √(d/2)",
        "yes: distinct over 10,000 positions",
        "yes",
        "possible (W_Qᵀ W_K = M_k); training at 16 found a position-dependent one",
        "no: trained at 16, far below trained accuracy past position 15",
        "0",
    ),
    (
        4,
        "learned table, added",
        "no bound by design: values are whatever training wrote",
        "yes where trained; untrained rows stay random noise",
        "yes",
        "no: the rule is learned row by row (moved to untrained rows, it fails)",
        "no: chance past the trained positions, an error past max_len; training every row "
        "(random starts) lifts it only partway",
        "max_len × d (BERT-base: 393,216)",
    ),
    (
        5,
        "RoPE (q and k rotated in every head)",
        "yes: rotations keep lengths, nothing is added",
        "yes: each position has its own angles",
        "yes",
        "yes, by construction: scores see content and m − n only, even after W_Q, W_K",
        "partly: trained at 16, far above the others past position 15, but below trained accuracy "
        "(bidirectional: diluted attention hurts trained positions too; causal: they stay intact)",
        "0",
    ),
    (
        6,
        "Shaw relative keys, clipped at ±k",
        "yes: one learned vector per offset in −k..k",
        "no positions at all: offsets only, and those past ±k look alike",
        "yes",
        "yes, up to ±k (k = 2 still gets most of copy-3-back, k = 3 more, on every seed)",
        "no: trained at 16, k = 3 falls from ~0.97 to ~0.6 at n = 64",
        "(2k + 1) × head_dim",
    ),
    (
        6,
        "T5 relative bias (32 buckets)",
        "yes: one learned number per bucket and head",
        "no positions: buckets exact near 0, log-spaced to 128, one beyond",
        "yes",
        "yes, and left from right (two halves)",
        "no: trained at 16, below 0.5 at n = 64 — unreached buckets keep their random start",
        "32 × heads, shared by all layers",
    ),
    (
        6,
        "ALiBi (fixed −m_h·\\|i − j\\|)",
        "no: grows with the distance",
        "no positions: a penalty per unit of distance",
        "yes",
        "distance only: \\|i − j\\| has no left and right (bidirectional: ~0.2 on copy-3-back); "
        "causal, copy-3-back needs 8 heads (2 heads: below 0.7 at n = 16)",
        "partly: causal, 8 heads, trained at 16, keeps over 3/4 of it at n = 64 (its steep heads "
        "ignore keys beyond the window); copies the first token at every position up to 63",
        "0",
    ),
    (
        6,
        "none, causal mask (NoPE)",
        "—",
        "leaked by the mask: position 0 always, fading with p; a linear probe reads it",
        "—",
        "no: copy-3-back below 0.5 at n = 16 in 800 steps",
        "no: lower still at 32 and 64",
        "0",
    ),
    (
        7,
        "RoPE + position interpolation (θ/s)",
        "yes: rotations",
        "yes, within s·L0: positions squeezed into the trained range",
        "no: the same position turns s times slower",
        "yes, but near offsets are squeezed together (copy-3-back: chance with no training)",
        "zero-shot only where far offsets matter (copy-first at 4×: yes); copy-3-back needs a "
        "fine-tune, and a plain fine-tune with the same steps is never behind it",
        "0",
    ),
    (
        7,
        "RoPE + dynamic NTK (base grows past L0)",
        "yes: rotations",
        "yes",
        "no past L0: the base depends on the current length",
        "yes, exactly plain RoPE up to L0",
        "changes nothing up to L0; a KV cache goes stale past it unless keys are re-rotated",
        "0",
    ),
    (
        8,
        "learned 1-D table over the patches in raster order (ViT), added",
        "no bound by design: values are whatever training wrote",
        "yes where trained (a 6 × 6 training leaves rows 36 on untrained)",
        "no: patch (r, c) is row r·W + c, which changes with the width W",
        "at one width only: \"above\" is W tokens back, and W changes with the image",
        "no: chance at widths 4 and 9; interpolated to a larger grid, it keeps image units",
        "max_cells × d",
    ),
    (
        8,
        "2-D sinusoids (MAE: column half ‖ row half), added",
        "yes: [−1, 1], every row of norm √(d/2)",
        "yes: every patch its own vector",
        "yes: patch (r, c) gets the same vector at every grid width",
        "yes: dot products see (Δrow, Δcol) only",
        "trained at 6 × 6: exact on a narrower grid, partly on wider ones; trained on five shapes: "
        "not at 12 × 12",
        "0",
    ),
    (
        8,
        "axial 2-D RoPE (half the pairs turn by the row, half by the column)",
        "yes: rotations keep lengths",
        "yes: each (row, col) its own angles",
        "yes",
        "yes: scores see (Δrow, Δcol) only, as a row term plus a column term (any one offset, "
        "diagonal ones included; no whole diagonal line)",
        "trained at 6 × 6: exact on a narrower grid; on wider ones an untrained offset of 6 "
        "aliases 0 on its fastest clock; trained on five shapes: every size up to 12 × 12",
        "0",
    ),
)


def summary_table(chapter: int) -> str:
    """Markdown table of every scheme measured in chapters 0..``chapter``."""
    require_int("chapter", chapter, minimum=0)
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row_chapter, *cells in ROWS:
        if row_chapter <= chapter:
            lines.append("| " + " | ".join([f"{row_chapter:02d}", *cells]) + " |")
    return "\n".join(lines)
