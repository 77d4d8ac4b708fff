"""Chapter 07 — stretching RoPE past its training length: the context-extension methods.

A RoPE model trained on sequences of ``original_max_len`` (L0) tokens has never seen the angles
m·θ_i of the positions beyond it. Every method here changes the frequencies θ_i (and some the
attention temperature) so that a longer context, ``factor`` (s) times L0, looks more like the one
the model was trained on. One call gives any of them:

    inv_freq, attention_factor = scaled_rope_inv_freq(head_dim, base, kind, factor,
                                                      original_max_len, seq_len=None, **params)

with θ_i = base^(−2i/head_dim) the plain frequencies (``rope_inv_freq``), i = 0 … head_dim/2 − 1:

    kind              θ'_i                                                       attention
    "default", "none" θ_i                                                        1
    "linear"          θ_i / s  (position interpolation)                          1
    "ntk"             θ_i of base·s^(d/(d−2))  (NTK-aware, static)               1
    "dynamic"         as "ntk", s' = s·seq_len/L0 − (s − 1); θ_i if seq_len ≤ L0 1
    "yarn"            θ_i·w_i + (θ_i/s)·(1 − w_i), w_i a ramp over pair index    0.1·ln s + 1
    "llama3"          θ_i·w_i + (θ_i/s)·(1 − w_i), w_i a ramp over turns in L0   1
    "longrope"        θ_i / λ_i, λ short_factor (seq_len ≤ L0) else long_factor  √(1+ln s/ln L0)
    "proportional"    θ_i / s for the first ⌊p·head_dim/2⌋ pairs, 0 for the rest 1

``attention_factor`` is what HF multiplies cos and sin by; q and k are both rotated, so the
attention logits are multiplied by its square (YaRN's 1/t, "temperature", in the paper).

Sources, and the HF transformers 5.23 function each kind matches (``ROPE_INIT_FUNCTIONS``):
    linear        Chen et al., "Extending context window ... via positional interpolation",
                  2023 (arXiv 2306.15595); ``_compute_linear_scaling_rope_parameters``.
    ntk, dynamic  bloc97 ("NTK-aware scaled RoPE", Reddit r/LocalLLaMA, 2023) and emozilla
                  (dynamic); ``_compute_dynamic_ntk_parameters`` (static NTK is its value with
                  factor 1 at seq_len = s·L0).
    yarn          Peng et al., "YaRN: efficient context window extension", 2023 (arXiv 2309.00071);
                  ``_compute_yarn_parameters``.
    llama3        Meta's Llama 3.1 (``apply_scaling`` in meta-llama/llama-models);
                  ``_compute_llama3_parameters``.
    longrope      Ding et al., "LongRoPE", 2024 (arXiv 2402.13753), as Phi-3 uses it;
                  ``_compute_longrope_parameters``.
    proportional  p-RoPE, Barbero et al., "Round and round we go! What makes rotary positional
                  encodings useful?", 2024 (arXiv 2410.06205): keep only the fastest fraction p of
                  the pairs rotating and leave the slowest (1 − p) unrotated, free to carry
                  content; ``_compute_proportional_rope_parameters``. HF 5.23 uses it in the
                  full-attention layers of Gemma 4 (p = 0.25, base 10^6; its sliding-window
                  layers keep plain RoPE) and of LFM3 (p = 0.5).
    default       each model's ``compute_default_rope_parameters`` (e.g. LlamaRotaryEmbedding's).

Llama 3 and YaRN are the same blend, per pair, between keeping θ_i and dividing it by s; they
differ only in the weight w_i. ``pair_regions`` names every pair "kept" (w = 1), "blended"
(0 < w < 1; Llama 3 says "smoothed") or "divided" (w = 0). Both weigh a pair by how many turns
r_i = L0·θ_i/(2π) it makes within the training length: a pair that turns many times has seen
every angle and is kept; one that never completes a turn is interpolated like "linear".
    llama3  w_i = clamp((r_i − low_freq_factor) / (high_freq_factor − low_freq_factor), 0, 1)
    yarn    w_i = 1 − clamp((i − lo) / (hi − lo), 0, 1), lo and hi the pair indices that turn
            beta_fast and beta_slow times (lo rounded down, hi up, unless truncate=False)

Precision: every step runs in float64 (float32 on Apple's MPS, which has no float64), on
``device``, and the result is rounded once, to ``dtype`` (float32 by default, as HF's buffers).
HF computes base^(2i/d), the blends and the wavelengths in float32. Measured with HF 5.23 against
our float64 values (tests/test_rope_scaling.py keeps HF's error under 1e-6 relative and ours
within one rounding): HF's θ'_i are off by up to 3.2e-7 relative on the Llama-3.1 configuration
(head_dim 128, base 500000) and 9.0e-7 at Phi-3's head_dim 96, the most in Llama 3's blended
pairs; ours by at most 6e-8. At position 131071 that is an angle error of up to 0.0074 radians
for HF and 0.0038 for ours, the size of the rounding of the float32 product position × θ that
HF's forward computes next (up to 0.004 at 131071). So float64 here makes the frequencies a
clean reference; it does not make a float32 model measurably better. On the toy configuration
(head_dim 16, base 10000, positions < 64) every angle error is below 2e-6 radians.
"""

from __future__ import annotations

import math
import numbers

import torch

from ._validation import require_choice, require_even, require_int, require_positive_float
from .rope import rope_inv_freq

# Every method, under HF's rope_type names where HF has one ("ntk" is static NTK-aware scaling,
# which HF only reaches through "dynamic"; "none" is another name for "default": plain RoPE).
ROPE_SCALING_KINDS = ("default", "none", "linear", "ntk", "dynamic", "yarn", "llama3",
                      "longrope", "proportional")

# Each kind's own settings, under HF's names: (required, optional with their defaults).
_PARAMS = {
    "default": ((), {}),
    "none": ((), {}),
    "linear": ((), {}),
    "ntk": ((), {}),
    "dynamic": ((), {}),
    "yarn": ((), {"beta_fast": 32.0, "beta_slow": 1.0, "mscale": None, "mscale_all_dim": None,
                  "attention_factor": None, "truncate": True}),
    "llama3": (("low_freq_factor", "high_freq_factor"), {}),
    "longrope": (("short_factor", "long_factor"), {"attention_factor": None}),
    "proportional": (("partial_rotary_factor",), {}),
}

# What ``pair_regions`` calls a pair, by its keep weight w: 1, strictly between, 0.
REGIONS = ("kept", "blended", "divided")


# --- one small function per method: plain θ (head_dim/2,) float64 in, scaled θ' out -----------


def _linear(inv_freq: torch.Tensor, factor: float) -> torch.Tensor:
    """Position interpolation (Chen et al. 2023; HF ``_compute_linear_scaling_rope_parameters``).

    inv_freq (head_dim/2,) -> (head_dim/2,). Turning position m by m·θ/s is turning position m/s
    by m·θ: positions up to s·L0 are squeezed back into the trained range 0 … L0.
    """
    return inv_freq / factor                                          # θ'_i = θ_i / s


def _ntk_base(base: float, head_dim: int, scale: float) -> float:
    """NTK-aware base: base' = base·s^(d/(d−2)), chosen so the slowest pair, i = d/2 − 1, turns
    exactly s times slower (θ'_{d/2−1} = θ_{d/2−1}/s) while the fastest, i = 0, is unchanged."""
    return base * scale ** (head_dim / (head_dim - 2))


def _ntk(head_dim: int, base: float, factor: float, device) -> torch.Tensor:
    """Static NTK-aware scaling (bloc97, 2023): plain RoPE with a larger base. -> (head_dim/2,).

    HF has no "ntk" type: ``_compute_dynamic_ntk_parameters`` with factor 1 at seq_len = s·L0
    gives these frequencies. Every pair but the first slows down, the slow ones the most.
    """
    return rope_inv_freq(head_dim, _ntk_base(base, head_dim, factor), device=device)


def _dynamic_ntk(head_dim: int, base: float, factor: float, original_max_len: int,
                 seq_len: int, device) -> torch.Tensor:
    """Dynamic NTK (emozilla, 2023; HF ``_compute_dynamic_ntk_parameters``). -> (head_dim/2,).

    The NTK base recomputed for the current length: s' = s·seq_len/L0 − (s − 1), which is 1 at
    seq_len = L0 and s at seq_len = 2·L0 ... growing with the text. At or below L0 the model
    sees plain RoPE, exactly (no arithmetic on the base at all). A KV cache that keeps keys
    rotated under an earlier base goes stale as seq_len grows (HF issues #25104, #25306).
    """
    if seq_len <= original_max_len:
        return rope_inv_freq(head_dim, base, device=device)           # θ'_i = θ_i
    scale = factor * seq_len / original_max_len - (factor - 1)        # s' > 1
    return rope_inv_freq(head_dim, _ntk_base(base, head_dim, scale), device=device)


def _blend(inv_freq: torch.Tensor, keep: torch.Tensor, factor: float) -> torch.Tensor:
    """θ'_i = θ_i·w_i + (θ_i/s)·(1 − w_i): per pair, between keeping θ_i (w = 1) and position
    interpolation (w = 0). inv_freq, keep (head_dim/2,) -> (head_dim/2,). Exact at w = 0 and 1."""
    return inv_freq * keep + inv_freq / factor * (1 - keep)


def _llama3_keep(inv_freq: torch.Tensor, original_max_len: int, low_freq_factor: float,
                 high_freq_factor: float) -> torch.Tensor:
    """Llama 3.1's weight per pair (HF ``_compute_llama3_parameters``). (head_dim/2,) in and out.

    r_i = L0/λ_i = L0·θ_i/(2π) turns within the training length; w = 1 (kept) for pairs with
    wavelength λ < L0/high_freq_factor, i.e. r > high_freq_factor; w = 0 (divided) for
    λ > L0/low_freq_factor, i.e. r < low_freq_factor; linear in r between ("smoothed").
    """
    turns = original_max_len * inv_freq / (2 * math.pi)               # r_i = L0 / λ_i
    keep = (turns - low_freq_factor) / (high_freq_factor - low_freq_factor)
    return keep.clamp(0.0, 1.0)


def _yarn_keep(head_dim: int, base: float, original_max_len: int, beta_fast: float,
               beta_slow: float, truncate: bool, device, dtype) -> torch.Tensor:
    """YaRN's weight per pair, "NTK-by-parts" (Peng et al. 2023, eq. 18-19; HF
    ``_compute_yarn_parameters``). -> (head_dim/2,) of ``dtype`` on ``device``.

    Pair i turns r_i = L0/(2π·base^(2i/d)) times within L0, so the pair that turns r times is
    i(r) = d·ln(L0/(2πr)) / (2 ln base). Pairs up to lo = i(beta_fast) are kept (w = 1), pairs
    from hi = i(beta_slow) on divided (w = 0), a straight line in i between.
    """
    def pair_turning(turns):                                           # i(r), a real number
        return head_dim * math.log(original_max_len / (turns * 2 * math.pi)) / (2 * math.log(base))

    low, high = pair_turning(beta_fast), pair_turning(beta_slow)
    if truncate:                                                       # whole pairs, widened
        low, high = math.floor(low), math.ceil(high)
    # HF clips hi at head_dim − 1, not at the last pair (head_dim/2 − 1); so do we: HF's ramp.
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001                                                  # HF: no division by zero
    pairs = torch.arange(head_dim // 2, device=device, dtype=dtype)
    ramp = ((pairs - low) / (high - low)).clamp(0.0, 1.0)              # 0 at lo, 1 at hi
    return 1 - ramp


def _yarn_attention_factor(factor: float, mscale, mscale_all_dim) -> float:
    """YaRN's √(1/t) = 0.1·ln s + 1 (paper eq. 22); DeepSeek's form, when both mscale and
    mscale_all_dim are given: (0.1·mscale·ln s + 1) / (0.1·mscale_all_dim·ln s + 1)."""
    def get_mscale(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if mscale is not None:
        return get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
    return get_mscale(factor)


def _longrope(inv_freq: torch.Tensor, rescale: torch.Tensor) -> torch.Tensor:
    """LongRoPE (Ding et al. 2024; HF ``_compute_longrope_parameters``): one searched factor per
    pair, θ'_i = θ_i / λ_i. inv_freq, rescale (head_dim/2,) -> (head_dim/2,)."""
    return inv_freq / rescale


def _longrope_attention_factor(factor: float, original_max_len: int) -> float:
    """Phi-3's LongRoPE attention factor √(1 + ln s / ln L0) (1 when s ≤ 1)."""
    if factor <= 1:
        return 1.0
    return math.sqrt(1 + math.log(factor) / math.log(original_max_len))


def _proportional(inv_freq: torch.Tensor, partial_rotary_factor: float,
                  factor: float) -> torch.Tensor:
    """p-RoPE (Barbero et al. 2024; HF ``_compute_proportional_rope_parameters``).

    inv_freq (head_dim/2,) -> (head_dim/2,). The first ⌊p·head_dim/2⌋ pairs (the fastest) keep
    their plain θ_i = base^(−2i/head_dim), exponent over the whole head_dim; the others get
    θ = 0: never rotated, a NoPE channel. Then everything is divided by s, as "linear".
    """
    head_dim = 2 * inv_freq.numel()
    rotated = int(partial_rotary_factor * head_dim // 2)               # HF's count, floored
    pairs = torch.arange(inv_freq.numel(), device=inv_freq.device)
    kept = torch.where(pairs < rotated, inv_freq, torch.zeros_like(inv_freq))
    return kept / factor


# --- validation, once, at the public boundary ---------------------------------------------------


def _require_number(name: str, value, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    if positive and not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def _factor_list(name: str, value, pairs: int) -> list[float]:
    """LongRoPE's short_factor / long_factor: ``pairs`` positive numbers, one per pair."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != pairs:
        got = f"length {len(value)}" if isinstance(value, (list, tuple)) else repr(value)
        raise ValueError(f"{name} must be a list of {pairs} numbers, one per pair (head_dim/2), "
                         f"got {got}.")
    return [_require_number(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _check(head_dim, base, kind, factor, original_max_len, seq_len, params) -> dict:
    """Checks every argument; returns the kind's settings with defaults filled in."""
    require_choice("kind", kind, ROPE_SCALING_KINDS)
    require_even("head_dim", head_dim, minimum=2)
    require_positive_float("base", base)
    if _require_number("factor", factor) < 1:
        raise ValueError(f"factor must be at least 1 (the new context is factor × the original "
                         f"length; 1 changes nothing), got {factor}.")
    require_int("original_max_len", original_max_len, minimum=1)
    if seq_len is not None:
        require_int("seq_len", seq_len, minimum=1)
    if kind == "dynamic" and seq_len is None:
        raise ValueError('kind="dynamic" recomputes its base for the current length: give '
                         "seq_len (the number of positions, e.g. the longest position + 1).")
    if kind in ("ntk", "dynamic") and head_dim < 4:
        raise ValueError(f'kind={kind!r} raises the base to the power d/(d − 2): head_dim must be '
                         f"at least 4, got {head_dim}.")
    required, optional = _PARAMS[kind]
    unknown = sorted(set(params) - set(required) - set(optional))
    missing = [name for name in required if name not in params]
    if unknown or missing:
        allowed = ", ".join(list(required) + list(optional)) or "none"
        what = f"unknown {unknown}" if unknown else f"missing {missing}"
        raise ValueError(f"kind={kind!r}: {what}. Its settings (HF's names) are: {allowed}; "
                         f"required: {', '.join(required) or 'none'}.")
    settings = {**optional, **params}
    _check_settings(kind, settings, head_dim)
    return settings


def _check_settings(kind: str, s: dict, head_dim: int) -> None:
    """The kind's own settings: numbers where numbers go, in the order the method needs."""
    for name in ("beta_fast", "beta_slow", "low_freq_factor", "high_freq_factor",
                 "mscale", "mscale_all_dim", "attention_factor"):
        if s.get(name) is not None:
            s[name] = _require_number(name, s[name])
    if kind == "yarn":
        if not isinstance(s["truncate"], bool):
            raise ValueError(f"truncate must be True or False, got {s['truncate']!r}.")
        if s["beta_fast"] <= s["beta_slow"]:
            raise ValueError(f"beta_fast (turns above which a pair is kept) must exceed beta_slow "
                             f"(turns below which it is divided), got {s['beta_fast']} and "
                             f"{s['beta_slow']}.")
        if (s["mscale"] is None) != (s["mscale_all_dim"] is None):
            raise ValueError("mscale and mscale_all_dim go together (their ratio is the "
                             "attention factor): give both or neither.")
    if kind == "llama3" and s["high_freq_factor"] <= s["low_freq_factor"]:
        raise ValueError(f"high_freq_factor must exceed low_freq_factor (pairs turning more than "
                         f"high_freq_factor times are kept, fewer than low_freq_factor divided), "
                         f"got {s['high_freq_factor']} and {s['low_freq_factor']}.")
    if kind == "longrope":
        for name in ("short_factor", "long_factor"):
            s[name] = _factor_list(name, s[name], head_dim // 2)
    if kind == "proportional":
        p = _require_number("partial_rotary_factor", s["partial_rotary_factor"], positive=False)
        if not 0 <= p <= 1:
            raise ValueError(f"partial_rotary_factor is the fraction of pairs that rotate: "
                             f"between 0 and 1, got {p}.")


def _check_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 (as HF's buffers) or torch.float64, "
                         f"got {dtype!r}.")
    return dtype


# --- the public entry points ---------------------------------------------------------------------


def _keep_weights(head_dim, base, kind, original_max_len, s, device) -> torch.Tensor:
    """w_i (head_dim/2,) of the blend methods: 1 keeps θ_i, 0 divides it by the factor."""
    inv_freq = rope_inv_freq(head_dim, base, device=device)
    if kind == "llama3":
        return _llama3_keep(inv_freq, original_max_len, s["low_freq_factor"],
                            s["high_freq_factor"])
    if kind == "yarn":
        return _yarn_keep(head_dim, base, original_max_len, s["beta_fast"], s["beta_slow"],
                          s["truncate"], device, inv_freq.dtype)
    return torch.full_like(inv_freq, 0.0 if kind == "linear" else 1.0)


def scaled_rope_inv_freq(head_dim: int, base: float, kind: str, factor: float,
                         original_max_len: int, seq_len: int | None = None, *,
                         device: torch.device | str | None = None,
                         dtype: torch.dtype = torch.float32, **params):
    """(inv_freq, attention_factor): RoPE's frequencies stretched by one method, and the factor
    HF multiplies cos and sin by (so the attention logits by its square).

    inv_freq: (head_dim/2,) radians per position, of ``dtype`` (float32 or float64) on ``device``,
    computed in float64 (float32 on MPS) and rounded once. attention_factor: a Python float.

    ``kind``: one of ``ROPE_SCALING_KINDS`` (the module docstring gives each formula).
    ``factor`` (≥ 1): s, how many times longer the new context is; ignored by "default"/"none".
    ``original_max_len``: L0, the training length (HF's original_max_position_embeddings; for
    "dynamic", HF's max_position_embeddings).
    ``seq_len``: the current number of positions; required by "dynamic", and picks LongRoPE's
    long factors when above L0 (short ones otherwise, and when None); unused by the others.
    ``params``: the kind's own settings under HF's names —
        yarn          beta_fast=32, beta_slow=1, mscale, mscale_all_dim (both or neither),
                      attention_factor (overrides), truncate=True
        llama3        low_freq_factor, high_freq_factor (required; Llama 3.1: 1 and 4)
        longrope      short_factor, long_factor (required, head_dim/2 numbers each),
                      attention_factor (overrides)
        proportional  partial_rotary_factor (required): p, the fraction of pairs that rotate
    """
    settings = _check(head_dim, base, kind, factor, original_max_len, seq_len, params)
    out_dtype = _check_dtype(dtype)
    inv_freq = rope_inv_freq(head_dim, base, device=device)            # θ_i, float64
    attention = 1.0
    if kind == "linear":
        inv_freq = _linear(inv_freq, factor)
    elif kind == "ntk":
        inv_freq = _ntk(head_dim, base, factor, device)
    elif kind == "dynamic":
        inv_freq = _dynamic_ntk(head_dim, base, factor, original_max_len, seq_len, device)
    elif kind in ("yarn", "llama3"):
        keep = _keep_weights(head_dim, base, kind, original_max_len, settings, device)
        inv_freq = _blend(inv_freq, keep, factor)
        if kind == "yarn":
            attention = settings["attention_factor"] or _yarn_attention_factor(
                factor, settings["mscale"], settings["mscale_all_dim"])
    elif kind == "longrope":
        long = seq_len is not None and seq_len > original_max_len
        rescale = settings["long_factor" if long else "short_factor"]
        inv_freq = _longrope(inv_freq, torch.tensor(rescale, dtype=inv_freq.dtype, device=device))
        attention = settings["attention_factor"] or _longrope_attention_factor(
            factor, original_max_len)
    elif kind == "proportional":
        inv_freq = _proportional(inv_freq, settings["partial_rotary_factor"], factor)
    return inv_freq.to(out_dtype), float(attention)


def pair_regions(head_dim: int, base: float, kind: str, factor: float, original_max_len: int,
                 **params) -> tuple[str, ...]:
    """Per pair, "kept", "blended" or "divided": what a blend method does to θ_i. Same arguments
    as ``scaled_rope_inv_freq``; kind one of "llama3", "yarn", "linear" (every pair divided),
    "default"/"none" (every pair kept). Returns head_dim/2 names, pair 0 (fastest) first.

    "kept" pairs keep θ_i (w = 1), "divided" ones become θ_i/s (w = 0), "blended" ones lie
    between (0 < w < 1; Llama 3's "smoothed"). The regions do not depend on the factor.
    Llama 3.1 (128, 500000, "llama3", 8, 8192, low_freq_factor=1, high_freq_factor=4): 29 kept,
    6 blended, 29 divided; YaRN on the same configuration: 19, 16, 29 (tests check both).
    """
    allowed = ("default", "none", "linear", "llama3", "yarn")
    if kind in ROPE_SCALING_KINDS and kind not in allowed:
        raise ValueError(f"pair_regions splits pairs into kept / blended / divided, which only "
                         f"the blend methods do: kind must be one of {', '.join(allowed)}; "
                         f"got {kind!r} (it changes every pair's θ in its own way).")
    settings = _check(head_dim, base, kind, factor, original_max_len, None, params)
    keep = _keep_weights(head_dim, base, kind, original_max_len, settings, "cpu")
    return tuple("kept" if w == 1 else "divided" if w == 0 else "blended" for w in keep.tolist())
