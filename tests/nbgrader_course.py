"""A throw-away nbgrader course directory for tests: generate, submit, autograde, read scores.

Everything runs in a temporary copy, never in the repository, so tests can
regenerate and grade without touching exercises/ or a real gradebook.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import nbformat

from course_lib.grade import new_course, run_nbgrader as _run_nbgrader

ROOT = Path(__file__).resolve().parents[1]


def assignments() -> list[str]:
    """Every chapter's assignment, by folder name under solutions/."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return _run_nbgrader(course, *args, timeout=900, check=True)


def make_course(tmp: Path, names: list[str] | None = None) -> Path:
    """A throw-away course in ``tmp`` with the assignments ``names`` (default: all) generated."""
    return new_course(tmp / "course", assignments() if names is None else names)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_text(source: str) -> str:
    """What a student who wrote the instructor's answer would have: the region without its markers."""
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


def submit(course: Path, assignment: str, student: str, nb) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")


def autograde(course: Path, assignment: str) -> None:
    run_nbgrader(course, "autograde", assignment, "--force")


def scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """grade cell id -> (score, max score) for one autograded submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
