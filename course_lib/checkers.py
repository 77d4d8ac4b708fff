"""Readable checks for the graded exercises' tests.

A failed check raises ``CheckFailed`` (an ``AssertionError``, so nbgrader
scores the test cell 0) with a message that says what was checked, what was
expected, what came back, and a hint — never a bare ``assert``.
"""

from __future__ import annotations

import math
import numbers

import torch


class CheckFailed(AssertionError):
    """A student-facing test failure."""


def _fail(what: str, problem: str, hint: str = "") -> None:
    message = f"\n✗ {what}: {problem}"
    if hint:
        message += f"\n  hint: {hint}"
    raise CheckFailed(message)


def _number(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _preview(t: torch.Tensor, limit: int = 8) -> str:
    flat = t.detach().reshape(-1)[:limit].tolist()
    return f"[{', '.join(_number(v) for v in flat)}{', …' if t.numel() > limit else ''}]"


def _differences(
    actual: torch.Tensor, expected: torch.Tensor, wrong: torch.Tensor, limit: int = 4
) -> str:
    """The wrong entries by index, most different first: "(1, 0): expected 0.25, got 0.75"."""
    diff = torch.nan_to_num((actual - expected).abs(), nan=float("inf")).masked_fill(~wrong, -1.0)
    order = diff.reshape(-1).argsort(descending=True)[: min(limit, int(wrong.sum()))]
    lines = []
    for flat_index in order.tolist():
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat_index), expected.shape))
        shown = index if len(index) != 1 else index[0]
        lines.append(
            f"    at {shown}: expected {_number(expected[index].item())}, got "
            f"{_number(actual[index].item())}"
        )
    more = int(wrong.sum()) - len(lines)
    return "\n".join(lines + ([f"    … and {more} more wrong entries"] if more > 0 else []))


def check_tensor(actual, expected: torch.Tensor, *, what: str, hint: str = "",
                 atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """``actual`` must be a tensor of ``expected``'s shape and (close) values."""
    if actual is None:
        _fail(what, "returned None. Did you forget the `return` statement?", hint)
    if not isinstance(actual, torch.Tensor):
        _fail(what, f"returned a {type(actual).__name__}, expected a torch.Tensor of shape "
                    f"{tuple(expected.shape)}.", hint)
    if actual.shape != expected.shape:
        _fail(
            what, f"wrong shape: expected {tuple(expected.shape)}, got {tuple(actual.shape)}.", hint
        )
    if expected.is_floating_point() and not actual.is_floating_point():
        _fail(what, f"expected floating-point values, got dtype {actual.dtype}.", hint)
    actual_c = actual.detach().to(expected.dtype)
    if not torch.allclose(actual_c, expected, atol=atol, rtol=rtol, equal_nan=False):
        wrong = ~torch.isclose(actual_c, expected, atol=atol, rtol=rtol, equal_nan=False)
        diff = torch.nan_to_num((actual_c - expected).abs(), nan=float("inf"))
        worst = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        whole = expected.numel() <= 8
        _fail(
            what,
            f"wrong values in {int(wrong.sum())} of {expected.numel()} entries.\n"
            f"  expected{'' if whole else ' (start)'}: {_preview(expected)}\n"
            f"  got     {'' if whole else ' (start)'}: {_preview(actual_c)}\n"
            f"  the wrong entries:\n{_differences(actual_c, expected, wrong)}\n"
            f"  largest difference {diff.max().item():.3g} at index {worst}",
            hint,
        )


def check_number(actual, expected: float, *, what: str, hint: str = "",
                 atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """``actual`` must be a real number within ``atol + rtol * |expected|`` of ``expected``."""
    if isinstance(actual, torch.Tensor) and actual.numel() == 1:
        actual = actual.item()
    if isinstance(actual, bool) or not isinstance(actual, numbers.Real):
        _fail(what, f"expected a number, got {actual!r} ({type(actual).__name__}).", hint)
    if math.isnan(float(actual)) and not math.isnan(expected):
        _fail(what, f"expected {expected:.10g}, got nan (not a number).", hint)
    # written so that nan fails too
    if not abs(float(actual) - expected) <= atol + rtol * abs(expected):
        _fail(what, f"expected {expected:.10g}, got {float(actual):.10g}.", hint)


def check_equal(actual, expected, *, what: str, hint: str = "") -> None:
    """``actual == expected`` for plain values (bools, ints, strings, tuples).

    A one-element tensor counts as its value: ``torch.tensor(True)`` is True.
    """
    if (
        isinstance(actual, torch.Tensor)
        and actual.numel() == 1
        and not isinstance(expected, torch.Tensor)
    ):
        actual = actual.item()
    if type(expected) is bool and not isinstance(actual, bool):
        _fail(what, f"expected True or False, got {actual!r} ({type(actual).__name__}).", hint)
    if actual != expected:
        _fail(what, f"expected {expected!r}, got {actual!r}.", hint)


def check_does_not_use(function, names, *, what: str, hint: str = "") -> None:
    """``function``'s own code must not mention any of ``names`` (e.g. the library helper an
    exercise asks a student to write by hand). Reads the code, not comments or strings: a comment
    naming the helper is fine."""
    import ast
    import inspect
    import textwrap

    # When a class is graded, ``function`` is a stand-in for the student's function in the sandbox:
    # the grader reads the student's code itself (and what ran) instead of this process's source.
    delegate = getattr(type(function), "__course_check_does_not_use__", None)
    if delegate is not None:
        return delegate(function, names, what=what, hint=hint)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError) as error:
        _fail(
            what,
            f"could not read the code of {getattr(function, '__name__', function)!r} ({error}).",
            hint,
        )
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update(alias.name.split(".")[-1] for alias in node.names)
    found = sorted(used & set(names))
    if found:
        _fail(
            what,
            f"it uses {', '.join(found)}, which this exercise asks you to write yourself.",
            hint,
        )



def gradient_of(function, *args, wrt: int = 0, upstream=None, **kwargs):
    """``(output, gradient)``: ``function(*args, **kwargs)`` and the gradient of
    ``sum(output * upstream)`` (``upstream`` defaults to ones) with respect to ``args[wrt]``, or
    ``None`` when no gradient reaches it (e.g. the function detached it). ``args[wrt]`` itself is
    not changed: the call gets a copy that requires grad. Works the same on a student's function in
    the grader, where it runs in the sandbox."""
    delegate = getattr(type(function), "__course_gradient__", None)
    if delegate is not None:
        return delegate(function, args, kwargs, wrt, upstream)
    args = list(args)
    args[wrt] = args[wrt].detach().clone().requires_grad_(True)
    output = function(*args, **kwargs)
    if not isinstance(output, torch.Tensor) or not output.requires_grad:
        return output, None
    upstream = torch.ones_like(output) if upstream is None else upstream.to(output.dtype)
    (grad,) = torch.autograd.grad((output * upstream).sum(), args[wrt], allow_unused=True)
    return output.detach(), grad
