"""Grade one submission: values out of the sandbox, judged outside it.

    python -m course_lib.grading.harness SOLUTION.ipynb SUBMISSION.ipynb RESULT.json [--timeout 120]
    [...]

This process never runs student code. It

1. reads the instructor's notebook (``solutions/NN/NN.ipynb``: set-up cells, solution cells, test
   cells with their points and hidden tests) and the student's notebook, as JSON;
2. builds the program the sandbox runs: the instructor's locked set-up cells and the student's
   answer cells (and any cells the student added) — never the student's copies of locked cells or
   test cells;
3. runs it in a ``Session`` (the sandbox), then binds each name the exercise asks for
   (``rope_half``, …) to a proxy: calling it sends the arguments into the sandbox and brings back
   plain data;
4. runs every test cell of the instructor's notebook, hidden tests included, *here*, with the real
   checkers: a test cell that finishes earns its points, one that raises earns 0 — as in nbgrader.

A submission can therefore change only the values its functions return: patching checkers, torch,
builtins or IPython, writing files or printing fake results happens in the sandbox and changes
nothing here. The result (scores, the failure message of each test, the student's log) is written as
JSON.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import io
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_lib.grading import by_hand
from course_lib.grading.sandbox import Limits, Sandbox, Session, StudentCrash, StudentTimeout
from course_lib.grading.wire import WireError, decode, encode

MAX_NOTEBOOK_BYTES = 200 * 2**20
# cell errors kept per student (each at most 1000 characters)
MAX_CELL_ERRORS = 20
# elements a student's code may send to a grader function at once
MAX_CALLBACK_NUMBERS = 100_000
# ... and along any one axis (a grader function may be quadratic in it)
MAX_CALLBACK_DIM = 4096
GRADER_MEMORY = 6 * 2**30                 # address space of this (unsandboxed) process


def _tensors(value):
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


# --- notebooks ------------------------------------------------------------------
def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _meta(cell: dict) -> dict:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbgrader if isinstance(nbgrader, dict) else {}


@dataclass
class Assignment:
    """The instructor's notebook, split into what the sandbox runs and what the grader runs."""

    setup: dict[str, str]                      # grade_id -> source of locked, non-test code cells
    solution_ids: list[str]
    tests: list[tuple[str, str, float]]        # (grade_id, source with hidden tests, points)
    contract: list[str]                        # names the student's answers must define
    order: list[str]                           # grade_ids of every code cell, in order

    @classmethod
    def read(cls, path: Path) -> Assignment:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        setup, solution_ids, tests, contract, order = {}, [], [], [], []
        for cell in notebook["cells"]:
            meta, source = _meta(cell), _source(cell)
            if cell.get("cell_type") != "code":
                continue
            grade_id = meta.get("grade_id", f"cell-{len(order)}")
            order.append(grade_id)
            if meta.get("grade"):
                tests.append((grade_id, source, float(meta.get("points", 0))))
            elif meta.get("solution"):
                solution_ids.append(grade_id)
                contract += [n for s in ast.parse(source).body for n in by_hand._bound_names(s)
                             if not n.startswith("_")]
            else:
                setup[grade_id] = source
        return cls(setup, solution_ids, tests, list(dict.fromkeys(contract)), order)

    @property
    def max_score(self) -> float:
        return sum(points for _, _, points in self.tests)

    def program(self, submission: dict) -> tuple[list[tuple[str, str]], list[str]]:
        """(cells the sandbox runs, in order, as (label, source); the student's own code, for
        reading)."""
        cells = submission.get("cells", []) if isinstance(submission, dict) else []
        cells = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"] \
            if isinstance(cells, list) else []
        program, student_code, placed = [], [], set()
        test_ids = {grade_id for grade_id, _, _ in self.tests}
        missing_setup = [g for g in self.order if g in self.setup]
        # the instructor's set-up always runs first, as written
        for g in missing_setup:
            program.append((g, self.setup[g]))
            placed.add(g)
        for number, cell in enumerate(cells, start=1):
            grade_id = _meta(cell).get("grade_id")
            if grade_id in test_ids or grade_id in placed:
                # test cells run here, in the grader; set-up ran already
                continue
            source = _source(cell)
            label = grade_id if grade_id in self.solution_ids else f"cell {number}"
            program.append((label, source))
            student_code.append(source)
        return program, student_code


# --- proxies --------------------------------------------------------------------
class StudentError(Exception):
    """An exception the student's code raised in the sandbox, rebuilt here as data (type name and
    message)."""


def _builtin_exception(name) -> type | None:
    kind = getattr(builtins, str(name), None)
    ok = (
        isinstance(kind, type)
        and issubclass(kind, Exception)
        and not issubclass(kind, (UnicodeError, OSError))
    )
    return kind if ok else None


def _rebuilt_exception(error: dict, function: str) -> StudentError:
    """The student's exception type, rebuilt from the builtin exceptions it derives from (never from
    BaseException-only types such as SystemExit): ``except ValueError`` in a test sees what it would
    see in the student's kernel."""
    names = error.get("bases") if isinstance(error.get("bases"), list) else [error.get("base")]
    bases = [
        b
        for b in dict.fromkeys(_builtin_exception(n) for n in names[:8])
        if b is not None and b is not Exception
    ]
    name = str(error.get("type", "Exception"))
    name = name if name.isidentifier() else "StudentException"
    exception = None
    # some builtin pairs cannot be combined (layout conflicts)
    for chosen in (bases, bases[:1], []):
        try:
            kind = type(name, (StudentError, *chosen), {})
            exception = kind(str(error.get("message", "")))
            break
        except TypeError:
            continue
    exception.function = function
    return exception


class Remote:
    """A student's function or object, living in the sandbox. Calls go there; data comes back."""

    def __init__(self, grader: Grader, target: dict, label: str, generation: int | None = None):
        self._grader, self._target, self._label, self._generation = (
            grader,
            target,
            label,
            generation,
        )

    def __call__(self, *args, **kwargs):
        return self._grader.call(self, "call", args=args, kwargs=kwargs)

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return self._grader.call(self, "getattr", attr=attr)

    def __repr__(self) -> str:
        return f"<your {self._label}>"

    def __course_check_does_not_use__(self, names, *, what: str, hint: str = "") -> None:
        self._grader.ban(self, names, what=what, hint=hint)

    def __course_gradient__(self, args, kwargs, wrt: int, upstream):
        return self._grader.call(self, "call", args=args, kwargs=kwargs, gradient=(wrt, upstream))


_LIBRARY_NAMES: set[str] = set()


def library_names() -> set[str]:
    """Every public function and class of the course's content modules (what the runner watches)."""
    if not _LIBRARY_NAMES:
        import importlib
        import inspect
        import pkgutil

        import course_lib
        from course_lib.grading.runner import UNWATCHED_MODULES

        for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
            if info.name.startswith(UNWATCHED_MODULES):
                continue
            module = importlib.import_module(info.name)
            _LIBRARY_NAMES.update(
                name
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and getattr(obj, "__module__", None) == module.__name__
                and (inspect.isfunction(obj) or inspect.isclass(obj))
            )
    return _LIBRARY_NAMES


def _mirror_in_place_changes(args, kwargs, after) -> None:
    """What the student's code did to a tensor argument in the sandbox, done to the grader's tensor
    too: a test that checks "x is left unchanged" sees an in-place edit as it would in the student's
    kernel."""
    import torch

    if not isinstance(after, dict):
        return
    pairs = list(zip(args, after.get("args") or []))
    pairs += [(kwargs[k], v) for k, v in (after.get("kwargs") or {}).items() if k in kwargs]
    for original, encoded in pairs:
        if not isinstance(original, torch.Tensor) or encoded is None:
            continue
        try:
            changed = decode(encoded)
        except WireError:
            continue
        if not isinstance(changed, torch.Tensor):
            continue
        with torch.no_grad():
            if changed.shape == original.shape and changed.dtype == original.dtype:
                if not torch.equal(changed, original):
                    original.copy_(changed)
            elif original.is_floating_point() or original.is_complex():
                # reshaped in place: nothing computed from it may pass
                original.fill_(float("nan"))
            else:
                original.fill_(-1)


class Grader:
    """Talks to one student's sandbox on behalf of the instructor's test cells."""

    def __init__(self, session: Session, student_code: list[str]):
        self.session, self.student_code = session, student_code
        self.deadline = float("inf")
        # session.restart_seconds when the current test started
        self.restart_mark = 0.0
        self.library_calls: dict[str, set[str]] = defaultdict(set)
        self.bans: dict[str, list[tuple[set[str], str, str]]] = defaultdict(list)

    def bind(self, names: list[str], namespace: dict) -> None:
        reply = self.session.request(
            {"op": "names", "names": names}, deadline=time.monotonic() + 60
        )
        for name, answer in reply.get("names", {}).items():
            if name not in names:
                continue
            if answer.get("kind") == "callable":
                namespace[name] = Remote(self, {"name": name}, name)
            elif answer.get("kind") == "value":
                try:
                    namespace[name] = decode(answer.get("value"), on_tagged=self._tagged(name))
                except WireError:
                    pass

    def _tagged(self, label: str):
        generation = self.session.generation

        def on_tagged(tag, body):
            if tag == "handle" and isinstance(body, dict) and isinstance(body.get("id"), int):
                return Remote(self, {"ref": body["id"]}, label, generation)
            raise WireError(f"unexpected value tag {tag!r}")
        return on_tagged

    def call(self, remote: Remote, op: str, **request):
        if remote._generation is not None and remote._generation != self.session.generation:
            raise StudentCrash(
                f"{remote._label} no longer exists: the student's process was restarted"
            )
        callbacks: dict[int, object] = {}

        def lend(value):
            if isinstance(value, Remote):
                return value._target
            if callable(value):
                callbacks[len(callbacks)] = value
                return {"callback": len(callbacks) - 1}
            raise WireError(f"the grader cannot pass a {type(value).__name__} to your code")

        message = {"op": op, "target": remote._target}
        if op == "call":
            message["args"] = encode(list(request["args"]), on_other=lend)
            message["kwargs"] = encode(request["kwargs"], on_other=lend)
            if request.get("gradient") is not None:
                wrt, upstream = request["gradient"]
                message["gradient"] = {
                    "wrt": int(wrt),
                    "upstream": None if upstream is None else encode(upstream),
                }
        else:
            message["attr"] = request["attr"]
        deadline = self.deadline + (self.session.restart_seconds - self.restart_mark)
        reply = self.session.request(message, deadline=deadline,
                                     on_callback=lambda m: self._serve_callback(m, callbacks))
        label = remote._label
        if op == "call":
            _mirror_in_place_changes(request["args"], request["kwargs"], reply.get("args_after"))
        self.library_calls[label] |= {
            str(n) for n in reply.get("library_calls", []) if isinstance(n, str)
        }
        self._enforce_bans(label)
        if "error" in reply:
            raise _rebuilt_exception(
                reply["error"] if isinstance(reply["error"], dict) else {}, label
            )
        value = decode(reply.get("value"), on_tagged=self._tagged(f"what {label} returned"))
        if request.get("gradient") is not None:
            return value, decode(reply.get("gradient"))
        return value

    @staticmethod
    def _serve_callback(message: dict, callbacks: dict) -> dict:
        """Run a grader function the student's code called, on the data it sent: only small inputs,
        since this process has no sandbox (a (3, 10000, d) tensor sent to a matrix product would
        cost gigabytes)."""
        function = callbacks.get(message.get("callback"))
        try:
            if function is None:
                raise ValueError("no such function")
            args, kwargs = decode(message.get("args")), decode(message.get("kwargs"))
            tensors = list(_tensors((args, kwargs)))
            numbers_sent = sum(v.numel() for v in tensors)
            longest = max((size for v in tensors for size in v.shape), default=0)
            if numbers_sent > MAX_CALLBACK_NUMBERS or longest > MAX_CALLBACK_DIM:
                raise ValueError(
                    f"the grader's function takes at most {MAX_CALLBACK_NUMBERS:,} numbers per "
                    "call and "
                    f"{MAX_CALLBACK_DIM} along any axis, got {numbers_sent:,} (longest axis "
                    f"{longest})"
                )
            return {"value": encode(function(*args, **dict(kwargs)))}
        # the grader's function failed on what the student passed it
        except Exception as error:
            base = next(c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins")
            return {"error": {"base": base, "message": str(error)[:500]}}

    def ban(self, remote: Remote, names, *, what: str, hint: str) -> None:
        from course_lib.checkers import _fail

        # "write it yourself" means: without course_lib
        names = set(names) | set(library_names())
        label = remote._label
        problems = by_hand.violations(self.student_code, label, names, library_names())
        if problems:
            advice = ("write it with plain tensor operations (+, *, @, torch.sin, …), "
                      "as the exercise asks.")
            _fail(what, f"{label} " + "; ".join(problems[:3]) + ".", hint or advice)
        self.bans[label].append((names, what, hint))
        self._enforce_bans(label)

    def _enforce_bans(self, label: str) -> None:
        from course_lib.checkers import _fail

        for names, what, hint in self.bans.get(label, []):
            used = sorted(self.library_calls[label] & names)
            if used:
                _fail(
                    what,
                    f"when it ran, {label} called {', '.join(used)}, which this exercise asks you "
                    "to "
                    "write yourself.",
                    hint,
                )


# --- grading --------------------------------------------------------------------
@dataclass
class TestResult:
    grade_id: str
    points: float
    max_points: float
    message: str = ""
    output: str = ""


@dataclass
class Result:
    score: float = 0.0
    max_score: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    cell_errors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0
    student_code: list[str] = field(default_factory=list)
    # "v1"/"v2": the whole submission's resources were bounded
    cgroup: str | None = None


def _failure_message(
    error: Exception, contract: list[str], cell_errors: dict[str, str], timeout: float
) -> str:
    from course_lib.checkers import CheckFailed

    if isinstance(error, CheckFailed):
        return str(error).strip()
    if isinstance(error, StudentError):
        kind = type(error).__name__
        return f"✗ your {error.function} raised {kind}: {error}"
    if isinstance(error, StudentTimeout):
        return f"✗ your code did not finish within {timeout:g} s; the grader stopped it."
    if isinstance(error, StudentCrash):
        return f"✗ your code stopped its own Python process ({error})."
    if isinstance(error, NameError) and getattr(error, "name", None) in contract:
        why = "; ".join(f"{label} {message}" for label, message in cell_errors.items())
        return (
            f"✗ `{error.name}` is not defined in your notebook"
            + (f" (when it ran: {why})" if why else "")
            + "."
        )
    if isinstance(error, AssertionError) and str(error):
        return "✗ " + str(error).strip()
    return f"✗ the test could not use your answer ({type(error).__name__}: {error})"


def grade_submission(
    solution: Path,
    submission: Path,
    *,
    timeout: float = 120,
    sandbox: Sandbox | None = None,
) -> Result:
    """Score one submitted notebook against the instructor's ``solution`` notebook (see the module
    docstring)."""
    started = time.monotonic()
    assignment = Assignment.read(solution)
    result = Result(max_score=assignment.max_score)
    try:
        if Path(submission).stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        notebook = json.loads(Path(submission).read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError) as error:
        notebook = {}
        result.problems.append(
            f"the notebook could not be read ({type(error).__name__}: {str(error)[:200]})"
        )
    program, student_code = assignment.program(notebook)
    session = Session(sandbox or Sandbox(), program, cell_timeout=timeout)
    grader = Grader(session, student_code)
    namespace: dict = {"__name__": "__grader__"}
    try:
        for source in assignment.setup.values():
            exec(compile(source, "<set-up>", "exec"), namespace)
        try:
            session.start()
            grader.bind(assignment.contract, namespace)
        except (StudentTimeout, StudentCrash) as error:
            result.problems.append(f"your notebook could not be started: {error}")
        for grade_id, source, points in assignment.tests:
            output = io.StringIO()
            grader.deadline = time.monotonic() + timeout
            grader.restart_mark = session.restart_seconds
            try:
                with contextlib.redirect_stdout(output):
                    exec(compile(source, f"<test {grade_id}>", "exec"), namespace)
                earned, message = points, ""
            except Exception as error:
                earned = 0.0
                message = _failure_message(error, assignment.contract, session.cell_errors, timeout)
            result.tests.append(
                TestResult(grade_id, earned, points, message, output.getvalue()[-4000:])
            )
    finally:
        session.close()
    result.score = sum(t.points for t in result.tests)
    errors = list(session.cell_errors.items())
    result.cell_errors = {label: message[:1000] for label, message in errors[:MAX_CELL_ERRORS]}
    if len(errors) > MAX_CELL_ERRORS:
        result.problems.append(
            f"{len(errors) - MAX_CELL_ERRORS} more cells raised errors (not listed)"
        )
    result.log = session.student_log()
    result.student_code = student_code
    result.cgroup = session.cgroup_kind
    result.seconds = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grading.harness", description=__doc__.split("\n")[0]
    )
    parser.add_argument("solution", type=Path)
    parser.add_argument("submission", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--slot", type=int, default=0)
    parser.add_argument("--unsandboxed", action="store_true")
    parser.add_argument("--memory", type=int, default=Limits.memory)
    parser.add_argument("--feedback", type=Path, help="also write the student's HTML feedback here")
    parser.add_argument("--student", default="student")
    args = parser.parse_args(argv)
    import resource

    # This process runs no student code, but it runs the grader's functions on data a student's code
    # sent.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = GRADER_MEMORY if hard == resource.RLIM_INFINITY else min(GRADER_MEMORY, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    sandbox = Sandbox(
        mode="none" if args.unsandboxed else "bwrap",
        limits=Limits(memory=args.memory),
        slot=args.slot,
    )
    result = asdict(
        grade_submission(args.solution, args.submission, timeout=args.timeout, sandbox=sandbox)
    )
    if args.feedback:
        from course_lib.grading.feedback import render

        args.feedback.parent.mkdir(parents=True, exist_ok=True)
        page = render(args.solution.stem, args.student, result, result["student_code"])
        args.feedback.write_text(page, encoding="utf-8")
    args.result.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
