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
