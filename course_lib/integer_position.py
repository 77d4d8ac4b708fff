"""Chapter 01 — the naive idea: give every token its index as a number.

"Lion kills deer" becomes [lion, 0], [kills, 1], [deer, 2] (concatenate), or
every feature of token p is shifted by p (add). Both break the order
blindness of chapter 00; chapter 01 measures what they cost.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import require_choice, require_int
from .attention import SelfAttention, TransformerBlock, attention_entropy
from .schemes import NoPositions, PositionScheme


class IntegerPosition(PositionScheme):
    """Append the raw index p as one extra feature (``"concat"``) or add p to every feature (``"add"``).

    concat: x (batch, seq, d-1) -> (batch, seq, d);  add: x (batch, seq, d) -> same shape.
    """

    def __init__(self, mode: str = "concat"):
        super().__init__()
        self.mode = require_choice("mode", mode, ("concat", "add"))
        self.extra_dims = 1 if mode == "concat" else 0

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        p = positions.to(x.dtype)[:, None]  # (seq, 1): the index as a number
        if self.mode == "add":
            return x + p
        return torch.cat([x, p.expand(x.shape[0], -1, -1)], dim=-1)


# --- measuring what the raw index costs as sequences grow ----------------------

def layernorm_cosine(position: int, d_model: int = 32, seed: int = 0) -> float:
    """Cosine between two *different* random tokens at the same ``position``, after LayerNorm.

    Each token is [embedding (d_model-1) || position]. As the position grows, the
    single huge feature dominates the mean and variance LayerNorm divides out,
    so every token is mapped to nearly the same vector: the cosine tends to 1.
    """
    require_int("position", position, minimum=0)
    require_int("d_model", d_model, minimum=3)
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randn(1, 2, d_model - 1, generator=gen)
    x = IntegerPosition("concat").embed(tokens, torch.tensor([position, position]))[0]
    a, b = F.layer_norm(x, (d_model,))
    return F.cosine_similarity(a, b, dim=0).item()


def _one_probe(seq_len: int, block: str, d_model: int, seed: int) -> dict:
    """One seeded forward/backward pass; see ``length_sweep``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = IntegerPosition("concat").embed(torch.randn(1, seq_len, d_model - 1, generator=gen), torch.arange(seq_len))
    positions = torch.arange(seq_len)
    if block == "attention":
        layer = SelfAttention(d_model)
        attn, attn_input = layer, x
        body = layer(x, NoPositions(), positions)
    else:
        layer = TransformerBlock(d_model)
        attn, attn_input = layer.attn, layer.ln_attn(x)
        body = F.layer_norm(layer(x, NoPositions(), positions), (d_model,))
    head = nn.Linear(d_model, 4)
    loss = F.cross_entropy(head(body.mean(dim=1)), torch.tensor([0]))
    loss.backward()
    q, k, _ = attn.qkv(attn_input).split(d_model, dim=-1)
    logits = q @ k.transpose(-2, -1) / math.sqrt(d_model)
    return {
        "feature_norm": x.norm(dim=-1).max().item(),
        "max_logit": logits.abs().max().item(),
        "entropy": attention_entropy(attn.last_weights).mean().item(),
        "grad_norm": torch.cat([p.grad.reshape(-1) for p in layer.parameters()]).norm().item(),
    }


def length_sweep(lengths, block: str = "attention", d_model: int = 32, seeds: int = 5) -> dict:
    """What appending the raw index does to one layer, length by length.

    For each length n: random tokens with the index 0..n-1 appended go through
    ``block`` — ``"attention"`` (one plain self-attention layer) or
    ``"pre_ln_block"`` (a pre-LayerNorm Transformer block with a final
    LayerNorm) — then mean pooling, a linear head and a cross-entropy loss.
    Returns {"length": [...], and per length the median over ``seeds`` of:
    "feature_norm" (largest input vector norm), "max_logit" (largest |attention
    logit|), "entropy" (mean attention-row entropy, nats), "log_n" (the
    uniform row's entropy), "grad_norm" (norm of the gradient of the block's
    parameters)}.
    """
    require_choice("block", block, ("attention", "pre_ln_block"))
    require_int("d_model", d_model, minimum=3)
    require_int("seeds", seeds, minimum=1)
    lengths = [require_int("each length", n, minimum=1) for n in lengths]
    if not lengths:
        raise ValueError("lengths must list at least one sequence length, e.g. [8, 64, 512].")
    result = {"length": lengths, "log_n": [math.log(n) for n in lengths]}
    for n in lengths:
        probes = [_one_probe(n, block, d_model, seed) for seed in range(seeds)]
        for key in probes[0]:
            result.setdefault(key, []).append(statistics.median(p[key] for p in probes))
    return result
