"""Notebook helpers for tests: a throw-away nbgrader course (to regenerate exercises/), and
submissions filled in with the instructor's answers or with a corpus answer.

Everything runs in a temporary copy, never in the repository.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def assignments() -> list[str]:
    """Every chapter's assignment, by folder name under solutions/."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader *args`` in ``course`` (nbgrader must run from the course root); raise if it
    fails."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
    return result


def new_course(course: Path, names: list[str]) -> Path:
    """A throw-away nbgrader course at ``course``: the config, the given solutions/, each assignment
    generated."""
    course.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    for name in names:
        run_nbgrader(course, "generate_assignment", "--force", name)
    return course


def make_course(tmp: Path, names: list[str] | None = None) -> Path:
    """A throw-away course in ``tmp`` with the assignments ``names`` (default: all) generated."""
    return new_course(tmp / "course", assignments() if names is None else names)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_text(source: str) -> str:
    """What a student who wrote the instructor's answer would have: the region without its
    markers."""
    return "\n".join(
        line for line in source.splitlines()
        if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def filled_in(release_nb, source_nb, replacements: dict[str, str] | None = None):
    """The released notebook with every solution cell answered by the instructor's
    solution, except the cells named in ``replacements`` (grade_id -> source)."""
    replacements = replacements or {}
    answers = {
        nbgrader_meta(c)["grade_id"]: solution_text(c.source)
        for c in source_nb.cells if nbgrader_meta(c).get("solution")
    }
    unknown = set(replacements) - set(answers)
    if unknown:
        raise KeyError(f"no solution cell named {sorted(unknown)}; known: {sorted(answers)}")
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = replacements.get(gid, answers[gid])
    return nb


def submit(course: Path, assignment: str, student: str, nb, file_name: str | None = None) -> None:
    """Hand in ``nb`` as nbgrader's layout has it:
    ``course/submitted/<student>/<assignment>/<file_name>``."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / (file_name or f"{assignment}.ipynb"))


def hidden_test_lines(assignment: str, min_length: int = 20) -> list[str]:
    """The lines of code in the instructor's hidden tests (long enough to be telling), to look for
    leaks."""
    import re

    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    lines = []
    for cell in source.cells:
        for block in re.findall(
            r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S
        ):
            lines += [
                line.strip() for line in block.splitlines() if len(line.strip()) >= min_length
            ]
    return lines


def points_per_test(assignment: str) -> dict[str, float]:
    """grade_id -> points of every graded test cell in the instructor's source notebook."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"]
            for c in nb.cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("points")}


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> its SHA-256: equal before and after means nothing was
    modified."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def csv_scores(csv_path: Path) -> dict[str, float]:
    """student id -> total score, from a grades.csv written by ``make grade``."""
    import csv

    with open(csv_path, newline="", encoding="utf-8") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def broken_links(path: Path) -> list[str]:
    """Relative links in a Markdown file or a notebook's Markdown cells that open nothing (external
    links and anchors are not checked)."""
    import re

    if path.suffix == ".md":
        text = path.read_text()
    else:
        text = "\n".join(
            c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
        )
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text)
            if not (re.match(r"[a-z]+:", target) or target.startswith("#"))
            and not (path.parent / target.split("#")[0]).exists()]
