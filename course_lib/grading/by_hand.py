""""Write it yourself" exercises: read the student's code, never run it.

``violations(cells, function, banned)`` follows ``function`` through the student's own code — the
helpers it calls, the aliases it uses, the imports behind them — and lists what breaks the rule:

* a banned name anywhere on that path (``apply_rope``, ``RotaryPositions``, ``scaled_dot_product_attention``),
  also as an import alias (``from course_lib import apply_rope as r``) or inside a string;
* reflection, which turns strings into functions where no reader can follow: ``getattr``, ``eval``,
  ``exec``, ``compile``, ``__import__``, ``globals``, ``vars``, dunder attributes (``__dict__``,
  ``__wrapped__``, ``__globals__``), a library's private attributes (``torch._C``), modules such as ``importlib``,
  ``sys``, ``inspect``, ``operator``, ``pydoc``, ``pickle``;
* imports beyond plain numerics (math, torch, numpy, itertools, functools, collections, …);
* changing a library from the notebook (``torch.softmax = …``).

The sandbox adds a run-time check: the runner records which course_lib and torch attention functions
ran during each call. Together they catch what a reader could spot; a student who computes the right
answer by a forbidden route the two checks cannot see is beyond them (the README says so).
"""

from __future__ import annotations

import ast

REFLECTION_NAMES = {"getattr", "setattr", "delattr", "eval", "exec", "compile", "__import__", "globals", "locals",
                    "vars", "breakpoint", "__builtins__"}
REFLECTION_ATTRIBUTES = {"import_module", "modules", "attrgetter", "methodcaller", "locate", "resolve_name",
                         "load", "loads", "ops", "library", "hub", "jit", "fx", "package", "getmembers",
                         "builtins", "importlib", "inspect", "pickle", "marshal", "ctypes", "gc", "sys"}
ALLOWED_MODULES = {"math", "cmath", "torch", "torch.nn", "torch.nn.functional", "numpy", "itertools", "functools",
                   "collections", "typing", "warnings", "fractions", "statistics", "dataclasses", "random",
                   "course_lib", "einops"}


def _parse(cells: list[str]) -> list[ast.stmt]:
    from IPython.core.inputtransformer2 import TransformerManager

    manager, body = TransformerManager(), []
    for source in cells:
        try:
            body += ast.parse(manager.transform_cell(source)).body
        except (SyntaxError, ValueError):
            continue                      # a cell that does not parse defines nothing the grader can call
    return body


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a top-level statement binds (not those bound inside function bodies)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    names = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(cells: list[str], function: str, banned) -> list[str]:
    """What in ``function`` (and the student code it reaches) breaks the by-hand rule; empty if nothing."""
    banned = set(banned)
    body = _parse(cells)
    definitions: dict[str, list[ast.stmt]] = {}
    for statement in body:
        for name in _bound_names(statement):
            definitions.setdefault(name, []).append(statement)
    if function not in definitions:
        return []                         # nothing to read: the function is missing, and other tests say so
    problems: list[str] = []
    imported = _imported_names(body)
    seen_statements: set[int] = set()
    queue = [function]
    visited_names = set()
    while queue:
        name = queue.pop()
        if name in visited_names:
            continue
        visited_names.add(name)
        for statement in definitions.get(name, []):
            if id(statement) in seen_statements:
                continue
            seen_statements.add(id(statement))
            docstrings = {id(n.value) for n in ast.walk(statement)
                          if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
            for node in ast.walk(statement):
                if id(node) not in docstrings:
                    problems += _node_problems(node, banned, imported)
                if isinstance(node, ast.Name) and node.id in definitions:
                    queue.append(node.id)
    # Library changes made anywhere in the notebook reach every function.
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    root = _root_name(target) if isinstance(target, (ast.Attribute, ast.Subscript)) else None
                    if root and root not in ("self", "cls") and root in imported:
                        problems.append(f"it changes a library: `{ast.unparse(target)} = …`")
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) \
                    and (node.module or "").startswith("course_lib"):
                problems.append(f"`from {node.module} import *` brings in the functions you are asked to write")
    return sorted(set(problems))


def _imported_names(body: list[ast.stmt]) -> set[str]:
    names = set()
    for statement in body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names |= _bound_names(statement)
    return names | {"torch", "math", "course_lib", "np", "numpy", "F"}


def _node_problems(node: ast.AST, banned: set[str], imported: set[str]) -> list[str]:
    problems = []
    if isinstance(node, ast.Name):
        if node.id in banned:
            problems.append(f"it uses `{node.id}`, which this exercise asks you to write yourself")
        elif node.id in REFLECTION_NAMES:
            problems.append(f"it uses `{node.id}` (reflection), which the grader cannot follow")
    elif isinstance(node, ast.Attribute):
        if node.attr in banned:
            problems.append(f"it uses `{node.attr}`, which this exercise asks you to write yourself")
        elif node.attr.startswith("__") or node.attr in REFLECTION_ATTRIBUTES:
            problems.append(f"it uses `.{node.attr}` (reflection), which the grader cannot follow")
        elif node.attr.startswith("_") and _root_name(node) in imported:
            problems.append(f"it uses the private attribute `.{node.attr}` of a library")
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        module = node.module if isinstance(node, ast.ImportFrom) else None
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            if alias.name in banned or (alias.name.startswith("_") and module):
                problems.append(f"it imports `{alias.name}`, which this exercise asks you to write yourself")
            checked = module if module else alias.name
            if checked.split(".")[0] not in {m.split(".")[0] for m in ALLOWED_MODULES} or \
                    checked.split(".")[0] in ("importlib", "sys"):
                problems.append(f"it imports `{full}`; a by-hand exercise needs only math, torch and numpy")
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        hits = sorted(name for name in banned if name in node.value)
        if hits:
            problems.append(f"it names `{hits[0]}` in a string")
    return problems
