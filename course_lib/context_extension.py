"""Chapter 07 — using ``course_lib.rope_scaling`` in a model: a RoPE scheme with stretched
frequencies, a short fine-tune at a longer length, and a KV-cache decode under dynamic NTK.

    ScaledRotaryPositions(head_dim, base, kind, factor, original_max_len, **params)
        RoPE whose θ'_i and attention factor come from ``scaled_rope_inv_freq``; "dynamic"
        recomputes them for every call's length. kind "none" is ``RotaryPositions`` again.
    with_position(model, scheme)       a copy of a trained model with its position scheme swapped
    fine_tune_copy_model(...)          the standard RoPE model, fine-tuned at a longer length
    dynamic_ntk_decode(q, k, v, ...)   causal single-head decoding with a KV cache under dynamic
                                       NTK: "stale" (HF #25104, #25306), "recompute" or "fixed"
    dynamic_ntk_attention(q, k, v, ...) the same outputs without a cache: every prefix recomputed

The attention factor multiplies cos and sin, as HF does: q and k both get it, so every attention
logit is multiplied by its square (YaRN's 1/t).
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
from torch import nn

from ._validation import require_choice, require_int, require_positive_float, require_tensor
from .experiments import COPY_EXPERIMENT, CopyExperiment, train_copy_model, train_copy_models
from .parallel import TrainingCache
from .rope import RotaryPositions, apply_rope
from .rope_scaling import ROPE_SCALING_KINDS, scaled_rope_inv_freq
from .schemes import PositionScheme
from .training import train

#: what ``dynamic_ntk_decode`` does with the keys it cached under an earlier base
CACHE_POLICIES = ("stale", "recompute", "fixed")


class ScaledRotaryPositions(RotaryPositions):
    """RoPE with frequencies stretched by one context-extension method (``rope_scaling``):
    ``RotaryPositions(head_dim, base, scaling=kind, factor=factor,
    original_max_len=original_max_len, **params)`` under chapter 07's name and argument order.

    ``rotate(q, k, positions)``: q and k (batch, heads, seq, head_dim), positions (seq,) or
    (batch, seq) whole numbers ≥ 0 -> both rotated pair by pair by m·θ'_i and multiplied by the
    attention factor. θ' and the factor come from ``scaled_rope_inv_freq(head_dim, base, kind,
    factor, original_max_len, seq_len, **params)`` with seq_len = the largest position + 1, so
    "dynamic" sees the current length (and equals plain RoPE up to ``original_max_len``).
    Interleaved pairs, as ``RotaryPositions`` (the standard experiment's scheme); angles in float64.
    ``.kind`` is ``.scaling``; ``.frequencies(seq_len)``, ``.inv_freq`` and ``.attention_factor``
    are ``RotaryPositions``'.
    """

    def __init__(self, head_dim: int, base: float = 10000.0, kind: str = "none",
                 factor: float = 1.0, original_max_len: int = 16, **params):
        require_choice("kind", kind, ROPE_SCALING_KINDS)       # the argument as the caller names it
        super().__init__(head_dim, base, scaling=kind, factor=factor,
                         original_max_len=original_max_len, **params)

    @property
    def kind(self) -> str:
        return self.scaling


def with_position(model: nn.Module, scheme: PositionScheme) -> nn.Module:
    """A deep copy of ``model`` (a ``TinyTransformer``) whose position scheme is ``scheme``; the
    weights are shared by value, not by reference: training the copy leaves ``model`` alone."""
    if not isinstance(scheme, PositionScheme):
        raise ValueError(f"scheme must be a course_lib PositionScheme, got "
                         f"{type(scheme).__name__}.")
    if not hasattr(model, "position"):
        raise ValueError(f"model must have a position scheme (a TinyTransformer), got "
                         f"{type(model).__name__}.")
    swapped = copy.deepcopy(model)
    swapped.position = scheme
    return swapped.eval()


def fine_tune_copy_model(kind: str, seed: int = 0, factor: float = 4.0, steps: int = 150,
                         lr: float = 3e-3, config: CopyExperiment = COPY_EXPERIMENT,
                         **params) -> nn.Module:
    """The standard RoPE model (``train_copy_model("rope", seed, config)``, trained at
    L0 = config.train_len) with its RoPE stretched by ``kind`` and ``factor``
    (``ScaledRotaryPositions``, original length L0), then trained ``steps`` more steps on the same
    task at n = L0·factor (seed ``seed`` for the batches; the optimiser and batch size of
    ``config``). kind "none" is a plain fine-tune at the longer length. Cached per argument set for
    the life of the kernel; each call returns its own copy. Returns the model in eval mode.
    """
    return fine_tune_copy_models([(kind, seed)], factor, steps, lr, config, **params)[0]


def fine_tune_copy_models(jobs, factor: float = 4.0, steps: int = 150, lr: float = 3e-3,
                          config: CopyExperiment = COPY_EXPERIMENT, **params) -> list[nn.Module]:
    """``[fine_tune_copy_model(kind, seed, factor, steps, lr, config, **params) for kind, seed in
    jobs]``, the missing ones trained side by side (``course_lib.parallel``: same models, bit for
    bit)."""
    require_int("steps", steps, minimum=1)
    require_positive_float("factor", factor)
    require_positive_float("lr", lr)
    if not isinstance(config, CopyExperiment):
        raise ValueError(f"config must be a CopyExperiment, got {type(config).__name__}.")
    if int(config.train_len * factor) != config.train_len * factor:
        raise ValueError(f"factor × the training length ({config.train_len}) must be a whole "
                         f"length, got factor {factor}.")
    keys = []
    for job in jobs:
        if not isinstance(job, (tuple, list)) or len(job) != 2:
            raise ValueError(f"each job must be a pair (kind, seed), got {job!r}.")
        kind = require_choice("kind", job[0], ROPE_SCALING_KINDS)
        seed = require_int("seed", job[1], minimum=0)
        keys.append((kind, seed, float(factor), steps, float(lr), config,
                     tuple(sorted(params.items()))))
    # the base models first, side by side, so that every fine-tuning worker inherits them
    train_copy_models([("rope", seed, config) for seed in dict.fromkeys(k[1] for k in keys)])
    return [copy.deepcopy(model) for model in _FINE_TUNED.get_many(keys)]


def _fine_tune(kind, seed, factor, steps, lr, config, params):
    scheme = ScaledRotaryPositions(config.head_dim, kind=kind, factor=factor,
                                   original_max_len=config.train_len, **dict(params))
    model = with_position(train_copy_model("rope", seed, config), scheme)
    long_task = replace(config, train_len=int(config.train_len * factor)).task()
    train(model, long_task, steps=steps, batch_size=config.batch_size, lr=lr, seed=seed,
          progress=False, weight_decay=config.weight_decay)
    return model


_FINE_TUNED = TrainingCache(_fine_tune)


def _check_decode(q, k, v, factor, original_max_len, base):
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_tensor(name, t, min_ndim=3, floating=True)
        if t.ndim != 3 or t.shape != q.shape:
            raise ValueError(f"q, k and v must share one shape (batch, seq, d); {name} has "
                             f"{tuple(t.shape)}, q has {tuple(q.shape)}.")
    require_int("original_max_len", original_max_len, minimum=1)
    require_positive_float("base", base)
    if q.shape[-1] % 2 or q.shape[-1] < 4:
        raise ValueError(f"d (q's last dimension) must be even and at least 4, got {q.shape[-1]}.")
    return scaled_rope_inv_freq(q.shape[-1], base, "dynamic", factor, original_max_len,
                                original_max_len, dtype=torch.float64)   # checks the factor


def _dynamic_inv_freq(d, base, factor, original_max_len, seq_len, like):
    """Dynamic NTK's θ' (d/2,) for a sequence of seq_len positions, in like's dtype and device."""
    inv_freq, _ = scaled_rope_inv_freq(d, base, "dynamic", factor, original_max_len, seq_len,
                                       dtype=torch.float64)
    return inv_freq.to(device=like.device, dtype=torch.promote_types(like.dtype, torch.float32))


def _rotated(x: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """x (batch, seq, d) turned by positions (seq,) with frequencies inv_freq (d/2,)."""
    return apply_rope(x, positions, inv_freq=inv_freq)


def _attend(q_rot: torch.Tensor, k_rot: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One query row (batch, 1, d) over every key so far (batch, t, d): no mask needed."""
    scores = q_rot @ k_rot.mT / math.sqrt(q_rot.shape[-1])
    return scores.softmax(dim=-1) @ v


def dynamic_ntk_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, factor: float,
                          original_max_len: int, base: float = 10000.0) -> torch.Tensor:
    """What a model without a cache computes, one prefix at a time: row t is causal attention over
    tokens 0..t with every query and key rotated under dynamic NTK's base for t + 1 positions.

    q, k, v (batch, seq, d), not yet rotated (d even, ≥ 4) -> (batch, seq, d). Interleaved pairs.
    """
    _check_decode(q, k, v, factor, original_max_len, base)
    rows = []
    for t in range(q.shape[1]):
        inv_freq = _dynamic_inv_freq(q.shape[-1], base, factor, original_max_len, t + 1, q)
        where = torch.arange(t + 1, device=q.device)
        rows.append(_attend(_rotated(q[:, t:t + 1], where[t:], inv_freq),
                            _rotated(k[:, :t + 1], where, inv_freq), v[:, :t + 1]))
    return torch.cat(rows, dim=1)


def dynamic_ntk_decode(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, factor: float,
                       original_max_len: int, base: float = 10000.0,
                       cache: str = "stale") -> torch.Tensor:
    """Causal single-head decoding, one token at a time, with a KV cache, under dynamic NTK.

    q, k, v (batch, seq, d), not yet rotated -> (batch, seq, d). At step t the base is the one for
    t + 1 positions. ``cache``:
        "stale"      key t is rotated once, under step t's base, and cached rotated (HF before
                     the fix, #25104 / #25306): later queries use a newer base than the old keys.
        "recompute"  keys are cached unrotated and every cached key is rotated again under the
                     current base: equals ``dynamic_ntk_attention`` row by row.
        "fixed"      one base for the whole sequence, the one for ``seq`` positions, chosen before
                     decoding: equals causal attention over the whole sequence under that base.
    """
    _check_decode(q, k, v, factor, original_max_len, base)
    require_choice("cache", cache, CACHE_POLICIES)
    batch, seq, d = q.shape
    final = _dynamic_inv_freq(d, base, factor, original_max_len, seq, q)
    cached_k = q.new_zeros(batch, 0, d)
    outputs = []
    for t in range(seq):
        where = torch.arange(t + 1, device=q.device)
        inv_freq = final if cache == "fixed" else _dynamic_inv_freq(d, base, factor,
                                                                   original_max_len, t + 1, q)
        if cache == "recompute":
            cached_k = torch.cat((cached_k, k[:, t:t + 1]), dim=1)           # unrotated
            keys = _rotated(cached_k, where, inv_freq)                        # all, again
        else:
            cached_k = torch.cat((cached_k, _rotated(k[:, t:t + 1], where[t:], inv_freq)), dim=1)
            keys = cached_k                                                   # rotated once
        outputs.append(_attend(_rotated(q[:, t:t + 1], where[t:], inv_freq), keys, v[:, :t + 1]))
    return torch.cat(outputs, dim=1)
