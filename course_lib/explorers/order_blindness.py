"""Chapter 00 explorer: type a sentence, see each word's contextual vector.

Without positions, a word's output vector depends on *which* words are in the
sentence, never on *where*: reorder the sentence and "lion" comes out the same.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..attention import scaled_dot_product_attention
from ..plotting import plot_attention, plot_vector_bars
from ..tasks import toy_attention_weights, toy_word_vectors


def order_blindness_view(
    sentence: str, with_positions: bool = False, dim: int = 4, seed: int = 0
) -> dict:
    """One head of self-attention over ``sentence`` with seeded toy weights.

    Returns {"words": [...], "weights": (n, n), "outputs": (n, dim),
    "vectors": {word: (dim,)}} — for a repeated word, its first occurrence.
    With ``with_positions`` a fixed vector per position index is added to
    each word vector first (the chapter 01-04 idea in one line).
    """
    if not isinstance(sentence, str) or not sentence.split():
        raise ValueError(f"sentence must be a non-empty string of words, got {sentence!r}.")
    words = sentence.lower().split()
    x = toy_word_vectors(words, dim, seed)
    if with_positions:
        x = x + toy_word_vectors([f"<position {p}>" for p in range(len(words))], dim, seed)
    w_q, w_k, w_v = toy_attention_weights(dim, seed)
    outputs, weights = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    vectors = {}
    for word, out in zip(words, outputs):
        vectors.setdefault(word, out)
    return {"words": words, "weights": weights, "outputs": outputs, "vectors": vectors}


def draw_order_blindness(
    sentences, with_positions: bool = False, word: str = "lion", dim: int = 4, seed: int = 0
):
    """Attention map of each sentence, and ``word``'s output vector in each, side by side."""
    if isinstance(sentences, str):
        sentences = [sentences]
    views = [order_blindness_view(s, with_positions, dim, seed) for s in sentences]
    missing = [" ".join(v["words"]) for v in views if word not in v["vectors"]]
    if missing:
        raise ValueError(
            f"the word {word!r} must appear in every sentence; it is missing from {missing}."
        )
    fig, axes = plt.subplots(1, len(views) + 1, figsize=(4.6 * (len(views) + 1), 4.4))
    for ax, view in zip(axes, views):
        plot_attention(view["weights"], view["words"], ax=ax, title=f"“{' '.join(view['words'])}”")
    plot_vector_bars(
        {" ".join(v["words"]): v["vectors"][word] for v in views},
        ax=axes[-1],
        title=f"output vector of “{word}”",
    )
    fig.tight_layout()
    return fig
