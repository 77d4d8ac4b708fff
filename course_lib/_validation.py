"""Input checks shared by every public function.

Each check raises ``ValueError`` with a message that says what was wrong and
what is allowed, in words a student can act on.
"""

from __future__ import annotations

import numbers

import torch


def require_int(name: str, value, *, minimum: int | None = None) -> int:
    """``value`` must be a whole number (not a bool), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def require_even(name: str, value, *, minimum: int | None = None) -> int:
    """Schemes that work on pairs of dimensions need an even whole-number width."""
    value = require_int(name, value, minimum=minimum)
    if value % 2:
        raise ValueError(
            f"{name} must be even (dimensions are used in (sin, cos) or rotation pairs), "
            f"got {value}."
        )
    return value


def require_index(name: str, value, size: int, what: str) -> int:
    """``value`` must be a whole number in 0..size − 1, an index into ``what`` (a phrase)."""
    value = require_int(name, value, minimum=0)
    if value >= size:
        raise ValueError(f"{name} must be {what}, 0..{size - 1}, got {value}.")
    return value


def require_positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def require_choice(name: str, value, choices) -> str:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
    return value


def require_tensor(name: str, value, *, min_ndim: int = 0, floating: bool = False) -> torch.Tensor:
    """``value`` must be a torch tensor with at least ``min_ndim`` dimensions."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}. "
            "Convert with torch.as_tensor(...) first."
        )
    if value.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions, got shape {tuple(value.shape)}."
        )
    if floating and not value.is_floating_point():
        raise ValueError(
            f"{name} must hold floating-point numbers, got dtype {value.dtype}. Use .float() first."
        )
    return value


# The two orders of paired features, under one name each in every module (sinusoidal tables and
# RoPE alike; see the docstring of ``course_lib.sinusoidal`` for why "half_split").
LAYOUTS = ("interleaved", "half_split")
# Names the course used before the two modules agreed on one: still understood, never accepted.
_OLD_LAYOUT_NAMES = {"halves": "half_split", "half": "half_split"}


def require_layout(value) -> str:
    """``value`` must be one of ``LAYOUTS``; an old name is refused with the name to use instead."""
    if isinstance(value, str) and value in _OLD_LAYOUT_NAMES:
        new = _OLD_LAYOUT_NAMES[value]
        raise ValueError(
            f"layout={value!r} is the old name of the half-split layout; "
            f"use layout={new!r} (one name in sinusoidal tables and RoPE alike)."
        )
    return require_choice("layout", value, LAYOUTS)
