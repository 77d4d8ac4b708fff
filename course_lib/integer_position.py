"""Chapter 01 — the naive idea: give every token its index as a number.

"Lion kills deer" becomes [lion, 0], [kills, 1], [deer, 2] (concatenate), or
every feature of token p is shifted by p (add). Both break the order
blindness of chapter 00; chapter 01 measures what they cost.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import require_choice, require_int, require_positive_float
from .attention import SelfAttention, TinyTransformer, TransformerBlock, attention_entropy
from .schemes import NoPositions, PositionScheme
from .tasks import IGNORE_INDEX, CopyBackTask
from .training import seed_everything


class IntegerPosition(PositionScheme):
    """Append the raw index p as one extra feature (``"concat"``) or add p to every feature
    (``"add"``).

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

def layernorm_cosine(position: int, other_position: int | None = None, d_model: int = 32,
                     pairs: int = 100, seed: int = 0) -> float:
    """Mean cosine, after LayerNorm, between two *different* random tokens with the index appended.

    Token A sits at ``position``, token B at ``other_position`` (default: the
    same position); the mean is over ``pairs`` random pairs. Each token is
    [embedding (d_model-1) || index]. As the index grows it sets the mean and
    variance that LayerNorm divides out: every token tends to the same vector
    (embedding features -> -1/sqrt(d_model-1), index -> sqrt(d_model-1)), which
    no longer depends on the token *or* on the position, so the cosine tends to 1.
    """
    require_int("position", position, minimum=0)
    other_position = (
        position
        if other_position is None
        else require_int("other_position", other_position, minimum=0)
    )
    require_int("d_model", d_model, minimum=3)
    require_int("pairs", pairs, minimum=1)
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(2, pairs, d_model - 1, generator=gen)
    a = torch.cat([a, torch.full((pairs, 1), float(position))], dim=-1)
    b = torch.cat([b, torch.full((pairs, 1), float(other_position))], dim=-1)
    return (
        F.cosine_similarity(F.layer_norm(a, (d_model,)), F.layer_norm(b, (d_model,)), dim=-1)
        .mean()
        .item()
    )


def _split_attention_gradient(attn: SelfAttention) -> tuple[float, float]:
    """Gradient norms of one attention layer, split by path: (W_Q and W_K, W_V and the output proj).

    W_Q, W_K decide *where* attention looks (through the logits and softmax); W_V and the output
    projection carry *what* it passes on. Biases are counted with their weights.
    """
    d = attn.proj.weight.shape[0]
    grad_w, grad_b = attn.qkv.weight.grad, attn.qkv.bias.grad   # rows: [W_Q; W_K; W_V]
    qk = torch.cat([grad_w[: 2 * d].reshape(-1), grad_b[: 2 * d]])
    value = torch.cat([grad_w[2 * d:].reshape(-1), grad_b[2 * d:],
                       attn.proj.weight.grad.reshape(-1), attn.proj.bias.grad])
    return qk.norm().item(), value.norm().item()


def _one_probe(
    seq_len: int, block: str, d_model: int, seed: int, final_ln: bool, with_index: bool
) -> dict:
    """One seeded forward/backward pass at initialisation; see ``length_sweep``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    positions = torch.arange(seq_len)
    tokens = torch.randn(1, seq_len, d_model - 1, generator=gen)
    # The control replaces the index by a zero feature: same width, no position.
    x = IntegerPosition("concat").embed(
        tokens, positions if with_index else torch.zeros_like(positions)
    )
    if block == "attention":
        layer = SelfAttention(d_model)
        attn, attn_input = layer, x
        body = layer(x, NoPositions(), positions)
    else:
        layer = TransformerBlock(d_model)
        attn, attn_input = layer.attn, layer.ln_attn(x)
        body = layer(x, NoPositions(), positions)
        if final_ln:
            body = F.layer_norm(body, (d_model,))
    head = nn.Linear(d_model, 4)
    loss = F.cross_entropy(head(body.mean(dim=1)), torch.tensor([0]))
    loss.backward()
    logits = attn.logits(attn_input)
    # nn.Linear computes x @ W.T, so the weights that read the index feature are
    # W's last *column*: w_Q = W[:d, -1], w_K = W[d:2d, -1].
    w = attn.qkv.weight.detach()
    qk_grad, value_grad = _split_attention_gradient(attn)
    return {
        "feature_norm": x.norm(dim=-1).max().item(),
        "max_logit": logits.abs().max().item(),
        "entropy": attention_entropy(attn.last_weights).mean().item(),
        "grad_norm": torch.cat([p.grad.reshape(-1) for p in layer.parameters()]).norm().item(),
        "grad_qk": qk_grad,
        "grad_value": value_grad,
        # 1 - sum_j w_ij^2 is the trace of softmax's Jacobian diag(w) - w wᵀ for row i: 0 when
        # the row is one-hot (no gradient reaches the logits), 1 - 1/n when it is uniform.
        "softmax_slope": (1 - attn.last_weights.pow(2).sum(-1)).mean().item(),
        "loss": loss.item(),
        "index_qk": torch.dot(w[:d_model, -1], w[d_model:2 * d_model, -1]).item(),
        "last_row_top_key": attn.last_weights[0, 0, -1].argmax().item(),
    }


def length_sweep(lengths, block: str = "attention", d_model: int = 32, seeds: int = 5,
                 final_ln: bool = True, with_index: bool = True) -> dict:
    """What appending the raw index does to one layer at initialisation, length by length.

    Design (state it when you quote the numbers): for each length n and seed,
    random unit-variance tokens with the index 0..n-1 appended go through
    ``block`` — ``"attention"`` (one plain self-attention layer) or
    ``"pre_ln_block"`` (a pre-LayerNorm Transformer block, followed by a
    parameter-free LayerNorm when ``final_ln``) — then mean pooling (so each
    token's gradient is scaled by 1/n), a fresh random linear head and
    cross-entropy towards class 0; one backward pass at initialisation.
    ``with_index=False`` is the control: a zero feature instead of the index.

    Returns {"length": [...], "log_n": [...]} and, for each measurement, a
    tensor of shape (len(lengths), seeds), one value per length and seed:
    "feature_norm" (largest input vector norm), "max_logit" (largest |attention
    logit|), "entropy" (attention-row entropy in nats, averaged over all rows),
    "grad_norm" (norm of the gradient of the block's parameters, not the
    head's), "grad_qk" and "grad_value" (the attention layer's gradient split
    into W_Q, W_K and into W_V, output projection), "softmax_slope" (mean over
    attention rows of 1 - sum_j w_ij², the trace of softmax's Jacobian: 0 for a
    saturated one-hot row), "loss", "index_qk" (w_Q . w_K for the index feature: its sign
    decides whether large logits favour the last keys or the first), and
    "last_row_top_key" (the key the last query attends to most).
    """
    require_choice("block", block, ("attention", "pre_ln_block"))
    require_int("d_model", d_model, minimum=3)
    require_int("seeds", seeds, minimum=1)
    lengths = [require_int("each length", n, minimum=1) for n in lengths]
    if not lengths:
        raise ValueError("lengths must list at least one sequence length, e.g. [8, 64, 512].")
    probes = [
        [_one_probe(n, block, d_model, seed, final_ln, with_index) for seed in range(seeds)]
        for n in lengths
    ]
    result = {"length": lengths, "log_n": [math.log(n) for n in lengths]}
    for key in probes[0][0]:
        result[key] = torch.tensor([[p[key] for p in row] for row in probes])
    return result


class _IndexedAttention(nn.Module):
    """Embedding (d_model - 1) + the raw index -> one plain attention layer -> a head per token."""

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, d_model - 1)
        self.position = IntegerPosition("concat")
        self.attn = SelfAttention(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.position.embed(self.token_embedding(tokens), positions)
        return self.head(self.attn(x, NoPositions(), positions))


def training_gradients(seq_len: int, block: str = "attention", seeds: int = 3, steps: int = 150,
                       batch_size: int = 16, lr: float = 3e-3, d_model: int = 32) -> dict:
    """Train with the raw index concatenated, recording the loss and the gradient at every step.

    Design: the copy task (``CopyBackTask``: copy the token 3 back, 16 symbols) at length
    ``seq_len``; ``block="attention"``: token embedding + index -> one plain attention layer -> a
    per-token head; ``"pre_ln_block"``: a 1-layer ``TinyTransformer`` (pre-LayerNorm, final
    LayerNorm) with ``IntegerPosition("concat")``. AdamW as in ``course_lib.training.train``
    (weight decay 0.01), fresh batches of ``batch_size`` per step, seed s for both the model and the
    batches. Returns {"loss", "grad_qk", "grad_value"}, each a tensor (seeds, steps): the training
    loss and the first attention layer's gradient norms split as in ``length_sweep``, measured at
    each step *before* the update. Chance level is log(16) = 2.77 (the uniform prediction).
    """
    require_int("seq_len", seq_len, minimum=4)
    require_choice("block", block, ("attention", "pre_ln_block"))
    require_int("seeds", seeds, minimum=1)
    require_int("steps", steps, minimum=1)
    require_int("batch_size", batch_size, minimum=1)
    require_positive_float("lr", lr)
    require_int("d_model", d_model, minimum=3)
    task = CopyBackTask(offset=3, vocab_size=16, seq_len=seq_len)
    record = {key: torch.zeros(seeds, steps) for key in ("loss", "grad_qk", "grad_value")}
    for seed in range(seeds):
        seed_everything(seed)
        if block == "attention":
            model = _IndexedAttention(task.vocab_size, d_model)
            attn = model.attn
        else:
            model = TinyTransformer(task.vocab_size, task.vocab_size, d_model=d_model,
                                    position=IntegerPosition("concat"), pool=None)
            attn = model.blocks[0].attn
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        generator = torch.Generator().manual_seed(seed)
        for step in range(steps):
            tokens, labels = task.sample(batch_size, generator)
            logits = model(tokens)
            loss = F.cross_entropy(logits.reshape(-1, task.vocab_size), labels.reshape(-1),
                                   ignore_index=IGNORE_INDEX)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            record["loss"][seed, step] = loss.item()
            record["grad_qk"][seed, step], record["grad_value"][seed, step] = (
                _split_attention_gradient(attn))
            optimizer.step()
    return record
