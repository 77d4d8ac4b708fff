"""Synthetic tasks whose answers depend on word order, plus seeded toy vectors.

The "who is the agent?" task: a sentence ``A verb B`` (three tokens) and the
answer ``A``. "lion kills deer" -> lion, "deer kills lion" -> deer: the same
bag of words with opposite answers, so a model blind to order cannot beat
50% on a test set that holds both orders of every pair.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from ._validation import require_int

#: Label for positions with no answer (ignored by the loss and by accuracy), as in PyTorch.
IGNORE_INDEX = -100

NOUNS = (
    "lion", "deer", "wolf", "bear", "fox", "hare",
    "owl", "mouse", "hawk", "snake", "frog", "fly",
    "cat", "dog", "bee", "crow",
)
VERBS = ("kills", "sees", "chases", "bites", "follows", "fears", "feeds", "finds")


@dataclass(frozen=True)
class AgentTask:
    """``A verb B -> A``. Nouns are token ids 0..num_nouns-1, verbs follow.

    The answer is the agent's noun id, so ``num_classes == num_nouns``.
    """

    num_nouns: int = 12
    num_verbs: int = 4

    def __post_init__(self):
        require_int("num_nouns", self.num_nouns, minimum=2)
        require_int("num_verbs", self.num_verbs, minimum=1)
        if self.num_nouns > len(NOUNS) or self.num_verbs > len(VERBS):
            raise ValueError(
                f"AgentTask has words for at most {len(NOUNS)} nouns and {len(VERBS)} verbs, "
                f"got num_nouns={self.num_nouns}, num_verbs={self.num_verbs}."
            )

    @property
    def vocab_size(self) -> int:
        return self.num_nouns + self.num_verbs

    @property
    def num_classes(self) -> int:
        return self.num_nouns

    @property
    def words(self) -> tuple[str, ...]:
        """Token id -> word."""
        return NOUNS[: self.num_nouns] + VERBS[: self.num_verbs]

    def encode(self, sentence: str) -> torch.Tensor:
        """'lion kills deer' -> tensor([0, 12, 1]) (with the default sizes)."""
        ids = {w: i for i, w in enumerate(self.words)}
        tokens = sentence.lower().split()
        unknown = [w for w in tokens if w not in ids]
        if unknown:
            raise ValueError(
                f"unknown word(s) {unknown}; this task knows: {', '.join(self.words)}."
            )
        return torch.tensor([ids[w] for w in tokens])

    def decode(self, tokens: torch.Tensor) -> str:
        return " ".join(self.words[int(t)] for t in tokens)

    def sample(self, batch_size: int, generator: torch.Generator | None = None):
        """Random sentences (agent != patient): tokens (batch, 3), labels (batch,)."""
        require_int("batch_size", batch_size, minimum=1)
        agent = torch.randint(self.num_nouns, (batch_size,), generator=generator)
        # A different patient: shift by 1..num_nouns-1 (mod num_nouns).
        shift = torch.randint(1, self.num_nouns, (batch_size,), generator=generator)
        patient = (agent + shift) % self.num_nouns
        verb = self.num_nouns + torch.randint(self.num_verbs, (batch_size,), generator=generator)
        return torch.stack([agent, verb, patient], dim=1), agent

    def all_sentences(self):
        """Every ``A verb B`` with A != B, once: tokens (N, 3), labels (N,).

        Symmetric by construction: "A v B" is in the set iff "B v A" is.
        """
        rows = [
            (a, self.num_nouns + v, b)
            for a in range(self.num_nouns)
            for b in range(self.num_nouns)
            if a != b
            for v in range(self.num_verbs)
        ]
        tokens = torch.tensor(rows)
        return tokens, tokens[:, 0].clone()


@dataclass(frozen=True)
class CopyBackTask:
    """At every position p >= offset, output the token that stood ``offset`` places earlier.

    The answer depends on *relative* position only, so a scheme that encodes
    positions inconsistently across lengths fails when the length changes.
    Positions p < offset have no answer (label ``IGNORE_INDEX``).
    """

    offset: int = 3
    vocab_size: int = 16
    seq_len: int = 16

    def __post_init__(self):
        require_int("offset", self.offset, minimum=1)
        require_int("vocab_size", self.vocab_size, minimum=2)
        require_int("seq_len", self.seq_len, minimum=self.offset + 1)

    @property
    def num_classes(self) -> int:
        return self.vocab_size

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, seq_len: int | None = None
    ):
        """tokens (batch, seq_len), labels (batch, seq_len); ``seq_len`` defaults to the training
        length."""
        require_int("batch_size", batch_size, minimum=1)
        n = (
            self.seq_len
            if seq_len is None
            else require_int("seq_len", seq_len, minimum=self.offset + 1)
        )
        tokens = torch.randint(self.vocab_size, (batch_size, n), generator=generator)
        labels = torch.full_like(tokens, IGNORE_INDEX)
        labels[:, self.offset:] = tokens[:, : -self.offset]
        return tokens, labels


@dataclass(frozen=True)
class CopyFirstTask:
    """At every position p >= 1, output the sequence's first token (the one at position 0).

    The opposite of CopyBackTask: the answer sits at an *absolute* place, as far back from the
    query as the query is long, so a scheme that fades with distance (ALiBi) has to reach ever
    further back as p grows. Position 0 has no answer (label ``IGNORE_INDEX``); ``offset`` = 1
    names the first position that has one, as ``measure_extrapolation`` expects.
    """

    vocab_size: int = 16
    seq_len: int = 16

    def __post_init__(self):
        require_int("vocab_size", self.vocab_size, minimum=2)
        require_int("seq_len", self.seq_len, minimum=2)

    @property
    def offset(self) -> int:
        return 1

    @property
    def num_classes(self) -> int:
        return self.vocab_size

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, seq_len: int | None = None
    ):
        """tokens (batch, seq_len) int64, labels (batch, seq_len): IGNORE_INDEX at 0, then
        tokens[:, 0] at every position; ``seq_len`` defaults to the training length."""
        require_int("batch_size", batch_size, minimum=1)
        n = self.seq_len if seq_len is None else require_int("seq_len", seq_len, minimum=2)
        tokens = torch.randint(self.vocab_size, (batch_size, n), generator=generator)
        labels = tokens[:, :1].expand(-1, n).clone()
        labels[:, 0] = IGNORE_INDEX
        return tokens, labels


@dataclass(frozen=True)
class MixedLengths:
    """A task trained at several lengths: each batch draws its length uniformly from ``lengths``.

    The standard remedy for "this model only ever saw one length" (chapter 02 measures what it
    does and does not fix). ``task`` is any task whose ``sample`` takes a ``seq_len``.
    """

    task: CopyBackTask
    lengths: tuple[int, ...]

    def __post_init__(self):
        if not self.lengths or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                   for n in self.lengths):
            raise ValueError(f"lengths must be a non-empty tuple of positive ints, "
                             f"got {self.lengths!r}.")

    @property
    def num_classes(self) -> int:
        return self.task.num_classes

    def sample(self, batch_size: int, generator: torch.Generator | None = None,
               seq_len: int | None = None):
        """tokens, labels (batch, n): n is ``seq_len`` if given, else one of ``lengths`` drawn
        from ``generator`` (one length per batch, so a batch stays a rectangle)."""
        if seq_len is None:
            seq_len = self.lengths[int(torch.randint(len(self.lengths), (1,), generator=generator))]
        return self.task.sample(batch_size, generator, seq_len=seq_len)


def copy_offset_profile(
    tokens: torch.Tensor, predictions: torch.Tensor, max_offset: int
) -> torch.Tensor:
    """Where does a model copy from? (max_offset + 1,) fractions, one per offset k = 0..max_offset.

    Entry k is the fraction of predictions (at positions p >= max_offset, so
    every offset exists) that equal the token k places back, tokens[p - k].
    A model that copies 3 back has a spike at k = 3; random guessing gives
    about 1 / vocab_size everywhere. tokens, predictions: (batch, seq) integers.
    """
    if tokens.shape != predictions.shape or tokens.dim() != 2:
        raise ValueError(
            "tokens and predictions must both have shape (batch, seq); got "
            f"{tuple(tokens.shape)} and {tuple(predictions.shape)}."
        )
    seq = tokens.shape[1]
    require_int("max_offset", max_offset, minimum=0)
    if max_offset >= seq:
        raise ValueError(
            f"max_offset must be smaller than the sequence length {seq}, got {max_offset}."
        )
    queries = predictions[:, max_offset:]
    return torch.stack(
        [
            (queries == tokens[:, max_offset - k : seq - k]).float().mean()
            for k in range(max_offset + 1)
        ]
    )


def toy_word_vectors(words, dim: int = 4, seed: int = 0) -> torch.Tensor:
    """A fixed random vector per distinct word: (len(words), dim).

    The same word always gets the same vector, wherever it stands: that is
    exactly what a token embedding without positions does.
    """
    require_int("dim", dim, minimum=1)
    words = list(words)
    if not words or not all(isinstance(w, str) for w in words):
        raise ValueError(f"words must be a non-empty list of strings, got {words!r}.")
    # Seed from the word itself (crc32 is stable across runs, unlike hash()),
    # so "lion" has one vector whatever sentence it appears in.
    return torch.stack(
        [
            torch.randn(
                dim,
                generator=torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(w.encode())),
            )
            for w in words
        ]
    )


def toy_attention_weights(dim: int = 4, seed: int = 0):
    """Seeded random projection matrices (W_q, W_k, W_v), each (dim, dim)."""
    require_int("dim", dim, minimum=1)
    gen = torch.Generator().manual_seed(seed + 1)
    return tuple(torch.randn(dim, dim, generator=gen) / dim**0.5 for _ in range(3))
