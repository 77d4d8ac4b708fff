"""How sensitive is each chapter's grader? Mutate the instructor's solutions one small change at a
time and count the mutants that lose points.

    python tools/mutants.py [NN_topic ...] [--jobs 2] [--timeout 60]      (make mutants)

A mutant is the instructor's answer with one change a hurried student could make: sin <-> cos, an
arithmetic or comparison operator flipped, a constant moved by one, a statement dropped, two
arguments swapped, a sign dropped. Every mutant of a chapter is graded as one class by
``course_lib.grade`` (sandboxed, like a real class); a mutant is *killed* when it scores below full
marks. The table gives, per chapter, the share killed and lists the survivors: each is either a gap
in the tests (add a test that kills it) or an equivalent mutant (same behaviour; say why in the
closing note). Mutants that do not parse are skipped.
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from nbgrader_course import filled_in, nbgrader_meta, solution_text, submit  # noqa: E402

from course_lib.grade import grade  # noqa: E402

SWAPS = {
    "sin": "cos",
    "cos": "sin",
    "min": "max",
    "max": "min",
    "T": "mT",
    "argmax": "argmin",
    "argmin": "argmax",
}
BINARY = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div,
}
# swapping their arguments changes nothing
COMMUTATIVE = {"min", "max", "maximum", "minimum", "add", "mul", "hypot"}
COMPARE = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}


def mutants(source: str) -> list[tuple[str, str]]:
    """(description, mutated source) for every single-point mutation of ``source``."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    out = []
    for index, node in enumerate(nodes):
        for description, change in _changes(node):
            mutated = copy.deepcopy(tree)
            target = list(ast.walk(mutated))[index]
            if change(target) is False:
                continue
            try:
                text = ast.unparse(ast.fix_missing_locations(mutated))
                compile(text, "<mutant>", "exec")
            except (SyntaxError, ValueError):
                continue
            line = getattr(node, "lineno", 0)
            out.append((f"line {line}: {description}", text))
    return out


def _changes(node):
    if isinstance(node, ast.Attribute) and node.attr in SWAPS:
        yield f".{node.attr} -> .{SWAPS[node.attr]}", lambda n: setattr(n, "attr", SWAPS[n.attr])
    if isinstance(node, ast.Name) and node.id in SWAPS:
        yield f"{node.id} -> {SWAPS[node.id]}", lambda n: setattr(n, "id", SWAPS[n.id])
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        new = BINARY[type(node.op)]
        yield (
            f"{type(node.op).__name__} -> {new.__name__}",
            lambda n, new=new: setattr(n, "op", new()),
        )
    if isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARE:
        new = COMPARE[type(node.ops[0])]
        yield (
            f"{type(node.ops[0]).__name__} -> {new.__name__}",
            lambda n, new=new: n.ops.__setitem__(0, new()),
        )
    if (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and not isinstance(node.value, bool)
    ):
        for delta in (1, -1):
            yield f"constant {node.value!r} -> {node.value + delta!r}", \
                lambda n, delta=delta: setattr(n, "value", n.value + delta)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "drop a minus sign", lambda n: setattr(n, "op", ast.UAdd())
    if isinstance(node, ast.Call) and len(node.args) >= 2 and _name(node.func) not in COMMUTATIVE:
        yield (
            "swap the first two arguments",
            lambda n: n.args.__setitem__(slice(0, 2), n.args[1::-1]),
        )
    for field in ("body", "orelse"):
        statements = getattr(node, field, None)
        if (
            isinstance(statements, list)
            and len(statements) > 1
            and not isinstance(node, ast.Module)
        ):
            for i, statement in enumerate(statements):
                if not isinstance(statement, ast.Return):
                    yield f"drop the statement on line {statement.lineno}", \
                        lambda n, i=i, field=field: getattr(n, field).__setitem__(i, ast.Pass())


def _name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def run(assignment: str, jobs: int, timeout: int) -> tuple[int, int, list[str]]:
    source_nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for cell in source_nb.cells:
            meta = nbgrader_meta(cell)
            if not meta.get("solution"):
                continue
            for description, text in mutants(solution_text(cell.source)):
                student = f"m{len(labels):04d}"
                labels[student] = f"{meta['grade_id']} {description}"
                submit(
                    tmp,
                    assignment,
                    student,
                    filled_in(release, source_nb, {meta["grade_id"]: text}),
                )
        csv_path = grade(assignment, tmp / "submitted", tmp / "out", timeout=timeout, jobs=jobs)
        with open(csv_path, newline="") as f:
            rows = {row["student_id"]: row for row in csv.DictReader(f)}
    survivors = [
        labels[s] for s, row in rows.items() if float(row["score"]) == float(row["max_score"])
    ]
    return len(labels), len(labels) - len(survivors), sorted(survivors)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=60)
    args = parser.parse_args(argv)
    names = args.assignments or sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    table = []
    for name in names:
        total, killed, survivors = run(name, args.jobs, args.timeout)
        table.append((name, total, killed))
        print(f"\n{name}: {killed}/{total} mutants killed ({killed / max(total, 1):.0%})")
        for survivor in survivors:
            print(f"  survived: {survivor}")
    print("\n| chapter | mutants | killed | share |\n|---|---|---|---|")
    for name, total, killed in table:
        print(f"| {name} | {total} | {killed} | {killed / max(total, 1):.0%} |")


if __name__ == "__main__":
    main()
