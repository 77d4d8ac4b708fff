""""Write it yourself" exercises: read the student's code, never run it.

``violations(cells, function, banned, library)`` reports what breaks the rule, in two scopes:

* **the function** — ``function`` and the student code it reaches (its helpers, the aliases it uses,
  the imports behind them, a ``global`` set elsewhere, a ``match`` binding, code inside cell magics
  such as ``%%capture``): a banned name (``apply_rope``), any ``course_lib`` function or class
  (``library``; e.g. ``offset_rotation`` does a rotation too), a library's private attribute
  (``torch._C``), a banned name in a string, any import from a package that implements position
  encodings itself (``transformers``, ``torchtune``, …: ``REFERENCE_PACKAGES``). Local variables
  are the function's own: a local called ``causal_mask`` is fine, and so is a helper the student
  wrote and named ``rotate_half``.
* **the whole notebook** — anything that turns strings into functions or reaches into the grader's
  machinery where no reader can follow: ``getattr``, ``eval``, ``exec``, ``compile``,
  ``__import__``, ``globals``, ``vars``; attributes such as ``__globals__``, ``__dict__``,
  ``__wrapped__``, ``f_back``; modules such as ``importlib``, ``sys``, ``inspect``, ``gc``,
  ``pickle``, ``pydoc``; IPython internals (``get_ipython().user_ns``, ``.run_cell``); assigning to
  a library's attributes (``torch.sin = …``). Honest dunders (``super().__init__()``,
  ``type(x).__name__``) are fine.

The sandbox adds a run-time check: the runner records which course_lib and torch attention functions
ran during each call. The whole-notebook rules are what keep that record honest (it lives in the
student's process). A student who computes the right answer by a forbidden route the two checks
cannot see is beyond them; the README says so.
"""

from __future__ import annotations

import ast

REFLECTION_NAMES = {
    "getattr",
    "setattr",
    "delattr",
    "eval",
    "exec",
    "compile",
    "__import__",
    "globals",
    "locals",
    "vars",
    "breakpoint",
    "__builtins__",
    "__loader__",
    "__spec__",
}
REFLECTION_ATTRIBUTES = {
    # dunders that reach code, globals, closures or the class machinery
    "__globals__",
    "__dict__",
    "__code__",
    "__closure__",
    "__builtins__",
    "__wrapped__",
    "__subclasses__",
    "__mro__",
    "__bases__",
    "__base__",
    "__getattribute__",
    "__func__",
    "__self__",
    "__import__",
    "__loader__",
    "__spec__",
    "__defaults__",
    "__kwdefaults__",
    "__reduce__",
    "__reduce_ex__",
    "__setattr__",
    "__delattr__",
    "__getattr__",
    "__init_subclass__",
    "__class_getitem__",
    "__objclass__",
    # frames and tracebacks
    "f_globals",
    "f_locals",
    "f_back",
    "f_builtins",
    "f_code",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "tb_frame",
    "tb_next",
    # name lookups by string, and torch's operator registry
    "import_module",
    "attrgetter",
    "methodcaller",
    "locate",
    "resolve_name",
    "getmembers",
    "get_overloads",
    "ops",
    # IPython internals
    "user_ns",
    "user_global_ns",
    "run_cell",
    "run_code",
    "runcode",
    "input_transformers_post",
    "input_transformers_cleanup",
    "ast_transformers",
    # other processes, whose library calls the run-time record cannot see
    "fork",
    "forkpty",
    "register_at_fork",
    "posix_spawn",
    "posix_spawnp",
    "spawnv",
    "spawnve",
    "spawnl",
    "execv",
    "execve",
    "execl",
    "popen",
}
LIBRARY_LOADERS = {"load", "loads", "from_file"}      # torch.load / np.load can unpickle a function
REFLECTION_MODULES = {
    "importlib",
    "sys",
    "builtins",
    "inspect",
    "gc",
    "ctypes",
    "pickle",
    "marshal",
    "types",
    "pydoc",
    "pkgutil",
    "runpy",
    "code",
    "codeop",
    "dill",
    "cloudpickle",
    "copyreg",
    "_thread",
    "imp",
    "zipimport",
    "cffi",
    "multiprocessing",
    "subprocess",
    "pty",
    "IPython",
    "concurrent",
}
LIBRARY_MODULES = {"torch", "course_lib", "numpy", "math", "cmath"}
# Packages that implement position encodings themselves, under names no ban list can keep up with
# (transformers alone holds T5's bucket as LayoutLMv2's `relative_position_bucket` and CPM-Ant's
# `_position_bucket`, ALiBi as MPT's `build_mpt_alibi_tensor`). A by-hand function may not reach
# them at all; the rest of the notebook may (a scratch cell comparing against HF is fine).
REFERENCE_PACKAGES = {
    "transformers",
    "torchtune",
    "timm",
    "xformers",
    "flash_attn",
    "rotary_embedding_torch",
    "x_transformers",
    "labml_nn",
    "fairseq",
    "megatron",
    "vllm",
    "mlx",
    "keras_nlp",
    "keras_hub",
    "tensorflow",
    "jax",
    "flax",
}
# `sys` is reflection (sys.modules, sys._getframe) but also where stderr lives: these uses stay
# allowed.
PLAIN_SYS_ATTRIBUTES = {
    "stdout",
    "stderr",
    "version",
    "version_info",
    "float_info",
    "maxsize",
    "platform",
}
MAGIC_RUNNERS = {"run_line_magic", "run_cell_magic"}


# --- reading the notebook ------------------------------------------------------------
def _parse(cells: list[str]) -> list[ast.stmt]:
    """Every cell as Python, with the code inside magics (``%time …``, ``%%capture``) read as code
    too."""
    from IPython.core.inputtransformer2 import TransformerManager

    manager, body = TransformerManager(), []
    for source in cells:
        try:
            body += _with_magic_bodies(ast.parse(manager.transform_cell(source)).body)
        except (SyntaxError, ValueError, RecursionError):
            # a cell that does not parse defines nothing the grader can call
            continue
    return body


def _with_magic_bodies(statements: list[ast.stmt], depth: int = 0) -> list[ast.stmt]:
    out = list(statements)
    if depth > 5:
        return out
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in MAGIC_RUNNERS and node.args:
                text = node.args[-1]
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    try:
                        out += _with_magic_bodies(ast.parse(text.value).body, depth + 1)
                    except (SyntaxError, ValueError, RecursionError):
                        pass              # %%bash and friends: not Python
    return out


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a top-level statement binds (not those bound inside function bodies, except ``global``
    ones)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name} | _global_names(statement)
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    names = set()
    for node in ast.walk(statement):
        # `if True: from course_lib import …`
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.Global):
            names.update(node.names)
    return names


def _global_names(node: ast.AST) -> set[str]:
    return {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}


def _local_names(function: ast.AST) -> set[str]:
    """The function's own variables: its parameters and names it assigns directly — not those of a
    nested function, lambda or comprehension (each has its own scope), and minus names declared
    global."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return set()
    arguments = function.args
    names = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    body = function.body if isinstance(function.body, list) else [function.body]
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # its body is another scope
        if isinstance(
            node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        ):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        stack.extend(ast.iter_child_nodes(node))
    return names - _global_names(function)


def _outer_expressions(function: ast.AST) -> set[int]:
    """Nodes a def evaluates in the enclosing scope (defaults, decorators, annotations): not its
    locals."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    outer = (
        function.args.defaults
        + [d for d in function.args.kw_defaults if d]
        + function.decorator_list
    )
    return {id(n) for expression in outer for n in ast.walk(expression)}


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _library_aliases(body: list[ast.stmt]) -> set[str]:
    """Names that refer to a library module: ``torch``, ``F``, ``np``, ``cl`` (``import course_lib
    as cl``)…"""
    aliases = set(LIBRARY_MODULES) | {"np", "F", "nn"}
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                aliases |= {(a.asname or a.name).split(".")[0] for a in node.names
                            if a.name.split(".")[0] in LIBRARY_MODULES}
            elif (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] in LIBRARY_MODULES
            ):
                aliases |= {
                    a.asname or a.name
                    for a in node.names
                    if a.name[:1].islower() and "_" not in a.name
                }
    return aliases


# --- the rules ------------------------------------------------------------------
def violations(cells: list[str], function: str, banned, library=()) -> list[str]:
    """What breaks the by-hand rule for ``function`` (see the module docstring); empty if
    nothing."""
    banned, library = set(banned), set(library) | set(banned)
    body = _parse(cells)
    definitions: dict[str, list[ast.stmt]] = {}
    own_functions: set[str] = set()
    for statement in body:
        for name in _bound_names(statement):
            definitions.setdefault(name, []).append(statement)
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own_functions.add(statement.name)
    # defined where no reader can see it (exec, a forged reply), or not at all
    if function not in definitions:
        return [
            f"its code is not in the notebook where the grader can read it: define `{function}` "
            "with `def`"
        ]
    aliases = _library_aliases(body)
    problems = _notebook_problems(body, aliases)
    seen: set[int] = set()
    queue, followed = [function], set()
    while queue:
        name = queue.pop()
        if name in followed:
            continue
        followed.add(name)
        for statement in _current_bindings(definitions.get(name, []), body):
            if id(statement) in seen:
                continue
            seen.add(id(statement))
            local, outer = _local_names(statement), _outer_expressions(statement)
            docstrings = {id(n.value) for n in ast.walk(statement)
                          if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
            for node in ast.walk(statement):
                if id(node) in docstrings:
                    continue
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                        and (node.id not in local or id(node) in outer):
                    if node.id in definitions:
                        queue.append(node.id)
                    if (
                        node.id in library
                        and node.id not in own_functions
                        and node.id not in definitions
                    ):
                        problems.append(
                            f"it uses `{node.id}`, which this exercise asks you to write yourself"
                        )
                problems += _node_problems(node, banned, library, aliases)
    return sorted(set(problems))


def _current_bindings(statements: list[ast.stmt], body: list[ast.stmt]) -> list[ast.stmt]:
    """The bindings of a name that can hold when the grader calls: after a last top-level
    `def`/`class` of the name, earlier bindings are gone (a scratch cell that tried the library,
    then the student's own helper). Bindings inside blocks may or may not run, so they all count."""
    order = {id(s): i for i, s in enumerate(body)}
    last_def = max(
        (
            order[id(s)]
            for s in statements
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and id(s) in order
        ),
        default=-1,
    )
    return [s for s in statements if order.get(id(s), -1) >= last_def]


def _node_problems(
    node: ast.AST, banned: set[str], library: set[str], aliases: set[str]
) -> list[str]:
    problems = []
    if isinstance(node, ast.Attribute):
        from_library = _root_name(node) in aliases
        if node.attr in banned or (node.attr in library and from_library):
            problems.append(
                f"it uses `{node.attr}`, which this exercise asks you to write yourself"
            )
        elif node.attr.startswith("_") and not node.attr.startswith("__") and from_library:
            problems.append(f"it uses the private attribute `.{node.attr}` of a library")
        elif node.attr in LIBRARY_LOADERS and from_library:
            problems.append(f"it loads code from a file (`.{node.attr}`)")
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in REFERENCE_PACKAGES:
                problems.append(f"it imports `{alias.name}`, which implements this for you")
    elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in \
            REFERENCE_PACKAGES:
        problems.append(f"it imports from `{node.module}`, which implements this for you")
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name in banned or (
                (node.module or "").startswith("course_lib") and alias.name in library
            ):
                problems.append(
                    f"it imports `{alias.name}`, which this exercise asks you to write yourself"
                )
            elif (
                alias.name.startswith("_") and (node.module or "").split(".")[0] in LIBRARY_MODULES
            ):
                problems.append(f"it imports the private `{alias.name}`")
    elif isinstance(node, ast.MatchClass):
        for attr in node.kwd_attrs:
            if attr in library:
                problems.append(f"it takes `{attr}` out of a library with `match`")
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        hits = sorted(name for name in banned if name in node.value)
        if hits:
            problems.append(f"it names `{hits[0]}` in a string")
    return problems


def _plain_sys_uses(body: list[ast.stmt]) -> set[int]:
    """ids of `import sys` / `from sys import stderr` nodes whose every use is a plain one
    (sys.stderr, …).

    If any name bound to `sys` is used otherwise (sys.modules, vars(sys), passing sys along), none
    is plain."""
    names, imports = set(), []
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Import) and all(a.name == "sys" for a in node.names):
                names |= {a.asname or a.name for a in node.names}
                imports.append(node)
            elif isinstance(node, ast.ImportFrom) and node.module == "sys" and not node.level \
                    and all(a.name in PLAIN_SYS_ATTRIBUTES for a in node.names):
                imports.append(node)
    if not imports:
        return set()
    plain_names = set()
    for statement in body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in names
                and node.attr in PLAIN_SYS_ATTRIBUTES
                and isinstance(node.ctx, ast.Load)
            ):
                plain_names.add(id(node.value))
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in names and id(node) not in plain_names:
                return set()
            if isinstance(node, (ast.Global, ast.Nonlocal)) and names & set(node.names):
                return set()
    return {id(node) for node in imports}


def _notebook_problems(body: list[ast.stmt], aliases: set[str]) -> list[str]:
    """Reflection and library changes anywhere in the notebook (they can reach any function)."""
    problems = []
    magic_calls = {
        id(n.value.func)
        for statement in body
        for n in ast.walk(statement)
        if isinstance(n, ast.Attribute)
        and n.attr in MAGIC_RUNNERS | {"system", "getoutput"}
        and isinstance(n.value, ast.Call)
        and isinstance(n.value.func, ast.Name)
    }
    plain_sys = _plain_sys_uses(body)
    for statement in body:
        for node in ast.walk(statement):
            if id(node) in plain_sys:
                continue
            if (
                isinstance(node, ast.Name)
                and node.id == "get_ipython"
                and id(node) not in magic_calls
            ):
                problems.append(
                    "the notebook uses `get_ipython()` beyond magics, which the grader cannot "
                    "follow"
                )
            elif isinstance(node, ast.Name) and node.id in REFLECTION_NAMES:
                problems.append(
                    f"the notebook uses `{node.id}` (reflection), which the grader cannot follow"
                )
            elif isinstance(node, ast.Attribute) and node.attr in REFLECTION_ATTRIBUTES:
                problems.append(
                    f"the notebook uses `.{node.attr}`, which reaches past what the grader can "
                    "follow"
                )
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                for module in modules:
                    if module.split(".")[0] in REFLECTION_MODULES:
                        problems.append(
                            f"the notebook imports `{module}`, which the grader cannot follow"
                        )
                if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) \
                        and (node.module or "").startswith("course_lib"):
                    problems.append(
                        f"`from {node.module} import *` brings in the functions you are asked to "
                        "write"
                    )
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = (
                    node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                )
                for target in targets:
                    if isinstance(target, ast.Attribute) and _root_name(target) in aliases:
                        problems.append(
                            f"the notebook changes a library: `{ast.unparse(target)} = …`"
                        )
    return problems
