"""House style, checked by ruff with the rules in pyproject.toml ([tool.ruff]): pyflakes (F),
pycodestyle errors and warnings (E, W), import order (I), lines of at most 100 characters.

The code test covers everything the course's developers write in .py files (the calibration corpora
included); the notebook test holds the lectures and solutions (ruff reads .ipynb natively, with the
same rules) to the same style; the last test runs `ruff check .` as a developer would. Failure
messages count the findings per file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT

CODE = ["course_lib", "tests", "benchmarks", "slides", "tools"]     # tests/ includes the corpora


def ruff_findings(*paths: str) -> list[dict]:
    """Every ruff finding in ``paths`` (relative to the repository), as ruff's JSON records."""
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json",
               *paths]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode in (0, 1), f"ruff did not run:\n{result.stderr}"
    return json.loads(result.stdout)


def describe(findings: list[dict]) -> str:
    """The count per file, then the first findings, each as path[:cell]:row: CODE message."""
    def where(finding):
        path = finding["filename"][len(str(ROOT)) + 1:]
        cell = f" cell {finding['cell']}" if finding.get("cell") is not None else ""
        return f"{path}{cell}:{finding['location']['row']}"

    counts = Counter(finding["filename"][len(str(ROOT)) + 1:] for finding in findings)
    per_file = "\n".join(f"  {n:4d}  {path}" for path, n in sorted(counts.items()))
    first = "\n".join(f"  {where(f)}: {f['code']} {f['message']}" for f in findings[:20])
    return f"{len(findings)} finding(s); per file:\n{per_file}\nfirst ones:\n{first}"


def test_code_is_lint_free():
    findings = ruff_findings(*CODE)
    if findings:
        pytest.fail(f"ruff check {' '.join(CODE)} (rules: [tool.ruff] in pyproject.toml): "
                    + describe(findings), pytrace=False)


def test_nothing_in_the_repository_escapes_the_linter():
    """`ruff check .` as a developer runs it: top-level files and new folders too (exercises/ is
    generated from solutions/ and excluded in pyproject.toml)."""
    findings = ruff_findings(".")
    if findings:
        pytest.fail("ruff check . : " + describe(findings), pytrace=False)


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_notebooks_are_lint_free(folder):
    findings = ruff_findings(folder)
    if findings:
        pytest.fail(f"ruff check {folder}: " + describe(findings), pytrace=False)



def private_rope_uses(source: str, package: tuple[str, ...]) -> list[str]:
    """Where ``source``, a module of ``package`` (e.g. ("course_lib", "explorers")), reaches a
    private name of course_lib.rope: ``from .rope import _x`` (any spelling of the module) or
    ``rope._x`` on the module itself."""
    import ast

    tree = ast.parse(source)
    modules = set()                                                    # local names of the module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module or "").split("."))).strip(".")
            for alias in node.names:
                if module == "course_lib.rope" and alias.name.startswith("_"):
                    found.append(f"line {node.lineno}: from {module} import {alias.name}")
                if f"{module}.{alias.name}" == "course_lib.rope":
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(alias.asname for alias in node.names
                           if alias.name == "course_lib.rope" and alias.asname)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and isinstance(node.value, ast.Name) and node.value.id in modules):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_rope_private_helpers():
    """RoPE's private helpers (``_rope``, ``_positions_for``, ...) may change with rope.py: other
    modules use its public API (``apply_rope``, ``RotaryPositions``, ``rope_inv_freq``)."""
    found = {}
    for path in sorted((ROOT / "course_lib").rglob("*.py")):
        package = path.relative_to(ROOT).parts[:-1]
        if package != ("course_lib",) or path.name != "rope.py":
            uses = private_rope_uses(path.read_text(), package)
            if uses:
                found[str(path.relative_to(ROOT))] = uses
    assert not found, f"private names of course_lib.rope used outside rope.py: {found}"


def test_the_private_name_check_sees_every_spelling():
    source = ("from ..rope import _rope, apply_rope\nfrom .. import rope as r\n"
              "from .rope import _local\nimport course_lib.rope as cr\nr._positions_for\n"
              "cr._angle_dtype\nr.apply_rope\n")
    assert private_rope_uses(source, ("course_lib", "explorers")) == [
        "line 1: from course_lib.rope import _rope", "line 5: r._positions_for",
        "line 6: cr._angle_dtype"]
    assert private_rope_uses("from .rope import _local\n", ("course_lib",)) == [
        "line 1: from course_lib.rope import _local"]
