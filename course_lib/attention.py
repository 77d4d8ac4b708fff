"""Chapter 00 — self-attention, and why it cannot see order on its own.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + bias) V

Everything here is permutation-equivariant: shuffle the tokens and the
outputs shuffle the same way. A position scheme (``course_lib.schemes``) is
the only thing that breaks that symmetry; the modules below give it three
places to act, one per family of schemes in the course:

    embed   add/concatenate something to the token vectors  (ch. 01-04, 08)
    rotate  transform queries and keys                      (ch. 05, 07)
    bias    add a term to the attention logits              (ch. 06)
            (a fixed or learned one per offset, or, for Shaw's relative keys, one that
            depends on the query: ``query_bias``)

Layout follows nanoGPT's ``model.py``: pure function first, then one module
per idea, read top to bottom.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import require_choice, require_int, require_tensor
from .schemes import NoPositions, PositionScheme


def causal_mask(seq_len: int) -> torch.Tensor:
    """(seq_len, seq_len) bool, True where query i may look at key j (j <= i)."""
    require_int("seq_len", seq_len, minimum=1)
    return torch.ones(seq_len, seq_len, dtype=torch.bool).tril()


def attention_logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The scores q kᵀ / √d before softmax: q (..., n_q, d), k (..., n_k, d) -> (..., n_q, n_k)."""
    # Dividing by √d keeps the logits' variance ~1 when q and k have unit
    # variance entries; without it softmax saturates as d grows.
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None = None,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d + bias) v, returning the output *and* the weights.

    Shapes: q (..., n_q, d), k (..., n_k, d), v (..., n_k, d_v), bias
    broadcastable to (..., n_q, n_k). Returns out (..., n_q, d_v) and
    weights (..., n_q, n_k); each row of weights sums to 1.
    """
    require_tensor("q", q, min_ndim=2, floating=True)
    require_tensor("k", k, min_ndim=2, floating=True)
    require_tensor("v", v, min_ndim=2, floating=True)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension (the dot product needs it), "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}."
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have one row per key (same second-to-last dimension), "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}."
        )
    logits = attention_logits(q, k)
    if bias is not None:
        logits = logits + bias
    if causal:
        n_q, n_k = logits.shape[-2:]
        if n_q != n_k:
            raise ValueError(f"causal=True needs as many queries as keys, got {n_q} and {n_k}.")
        logits = logits.masked_fill(~causal_mask(n_q), float("-inf"))
    weights = logits.softmax(dim=-1)
    return weights @ v, weights


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each attention row: H = -sum_j w_ij log w_ij.

    weights (..., n_q, n_k) with rows summing to 1 -> (..., n_q). H ranges from
    0 (all weight on one key: a saturated softmax) to log n_k (uniform).
    """
    require_tensor("weights", weights, min_ndim=1, floating=True)
    if (weights < 0).any() or not torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-3):
        raise ValueError("weights must be attention weights: non-negative, each row summing to 1.")
    # 0 * log 0 counts as 0, the limit of w log w as w -> 0.
    return -(weights * weights.clamp_min(torch.finfo(weights.dtype).tiny).log()).sum(-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a pluggable position scheme.

    x (batch, seq, d_model) -> (batch, seq, d_model). The last attention
    weights (batch, heads, seq, seq) are kept in ``last_weights`` for plots.
    """

    def __init__(self, d_model: int, num_heads: int = 1, causal: bool = False):
        super().__init__()
        require_int("d_model", d_model, minimum=1)
        require_int("num_heads", num_heads, minimum=1)
        if d_model % num_heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads}): "
                "each head gets d_model / num_heads dimensions."
            )
        self.num_heads = num_heads
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.last_weights: torch.Tensor | None = None

    def project(self, x: torch.Tensor):
        """x (batch, seq, d_model) -> q, k, v, each (batch, heads, seq, head_dim)."""
        batch, seq, d_model = x.shape
        return tuple(
            t.view(batch, seq, self.num_heads, d_model // self.num_heads).transpose(1, 2)
            for t in self.qkv(x).split(d_model, dim=-1)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Attention logits (batch, heads, seq, seq) before any position scheme, bias or mask."""
        q, k, _ = self.project(x)
        return attention_logits(q, k)

    def forward(
        self, x: torch.Tensor, position: PositionScheme, positions: torch.Tensor
    ) -> torch.Tensor:
        batch, seq, d_model = x.shape
        q, k, v = self.project(x)
        q, k = position.rotate(q, k, positions)  # RoPE acts here; v is never rotated
        bias = position.attention_bias(seq)
        # Shaw et al.'s relative keys add q_i·a_(j−i)/√d: a term that depends on q, so it is
        # asked for here, with the queries, not in attention_bias(seq) (None for other schemes).
        query_term = position.query_bias(q, positions)
        if query_term is not None:
            bias = query_term if bias is None else bias + query_term
        out, weights = scaled_dot_product_attention(q, k, v, bias=bias, causal=self.causal)
        self.last_weights = weights.detach()
        return self.proj(out.transpose(1, 2).reshape(batch, seq, d_model))


class MLP(nn.Module):
    """Position-wise feed-forward: the same small network applied to every token."""

    def __init__(self, d_model: int, hidden_factor: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, hidden_factor * d_model),
            nn.GELU(),
            nn.Linear(hidden_factor * d_model, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block, as in GPT-2/nanoGPT: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, num_heads: int = 1, causal: bool = False):
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, num_heads, causal)
        self.ln_mlp = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(
        self, x: torch.Tensor, position: PositionScheme, positions: torch.Tensor
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x), position, positions)
        return x + self.mlp(self.ln_mlp(x))


class TinyTransformer(nn.Module):
    """A small Transformer for the course's synthetic tasks.

    tokens (batch, seq) int64 -> logits (batch, num_classes) when the model
    gives one answer per sequence, or (batch, seq, num_classes) with
    ``pool=None`` (one answer per position). ``pool`` chooses how a sequence
    answer is read from the token vectors:

        "mean"   average over tokens: symmetric, so order-blind without positions
        "first"  the first token's vector (where BERT puts [CLS]). Not symmetric:
                 row 0's vector depends on *which token sits in row 0*, and that
                 is all it leaks about order. Chapter 00 measures it: the agent
                 task (answer = the first word) is solved with no positions, and
                 with a constant [CLS] prepended it falls back to the 50 % ceiling
        None     no pooling

    Without a position scheme and without a causal mask (which leaks position
    from the second layer on: chapters 00 and 06), the token vectors are
    permutation-equivariant, and mean pooling makes the answer
    permutation-invariant.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 32,
        num_heads: int = 1,
        num_layers: int = 1,
        position: PositionScheme | None = None,
        causal: bool = False,
        pool: str | None = "mean",
    ):
        super().__init__()
        require_int("vocab_size", vocab_size, minimum=1)
        require_int("num_classes", num_classes, minimum=2)
        require_int("num_layers", num_layers, minimum=1)
        require_choice("pool", pool, ("mean", "first", None))
        self.position = position if position is not None else NoPositions()
        if not isinstance(self.position, PositionScheme):
            raise ValueError(
                f"position must be a course_lib PositionScheme (e.g. NoPositions()), "
                f"got {type(self.position).__name__}."
            )
        # A scheme that concatenates features takes some of the d_model width.
        token_dim = d_model - self.position.extra_dims
        if token_dim < 1:
            raise ValueError(
                f"d_model={d_model} leaves no room for token features next to the "
                f"{self.position.extra_dims} position feature(s)."
            )
        self.pool = pool
        self.token_embedding = nn.Embedding(vocab_size, token_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, causal) for _ in range(num_layers)
        )
        self.ln_final = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        require_tensor("tokens", tokens, min_ndim=2)
        if tokens.is_floating_point():
            raise ValueError(f"tokens must be integer token ids, got dtype {tokens.dtype}.")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.position.embed(self.token_embedding(tokens), positions)
        for block in self.blocks:
            x = block(x, self.position, positions)
        x = self.ln_final(x)
        if self.pool == "mean":
            x = x.mean(dim=1)
        elif self.pool == "first":
            x = x[:, 0]
        return self.head(x)

    @property
    def attention_weights(self) -> list[torch.Tensor]:
        """Each layer's last attention weights, (batch, heads, seq, seq)."""
        return [block.attn.last_weights for block in self.blocks]
