"""House style, checked by ruff with the rules in pyproject.toml ([tool.ruff]): pyflakes (F),
pycodestyle errors and warnings (E, W), import order (I), lines of at most 100 characters.

The code test covers everything the course's developers write in .py files. The second test holds
the notebooks (ruff reads .ipynb natively, with the same rules) and the grading corpora to the same
style: its failure message counts the findings per file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT

CODE = ["course_lib", "tests", "benchmarks", "slides", "tools"]
# The calibration corpora (tests/calibration/) are checked with the notebooks, below.
NOT_YET = ["tests/calibration"]


def ruff_findings(*paths: str, exclude: list[str] = ()) -> list[dict]:
    """Every ruff finding in ``paths`` (relative to the repository), as ruff's JSON records."""
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json",
               *paths]
    if exclude:
        command += ["--extend-exclude", ",".join(exclude)]
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
    findings = ruff_findings(*CODE, exclude=NOT_YET)
    if findings:
        pytest.fail(f"ruff check {' '.join(CODE)} (rules: [tool.ruff] in pyproject.toml): "
                    + describe(findings), pytrace=False)


@pytest.mark.parametrize("folder", ["notebooks", "solutions", *NOT_YET])
def test_notebooks_and_corpora_are_lint_free(folder):
    findings = ruff_findings(folder)
    if findings:
        pytest.fail(f"ruff check {folder}: " + describe(findings), pytrace=False)
