"""A throw-away nbgrader course directory for tests: generate, submit, autograde, read scores.

Everything runs in a temporary copy, never in the repository, so tests can
regenerate and grade without touching exercises/ or a real gradebook.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBGRADER = [sys.executable, "-m", "nbgrader"]


def assignments() -> list[str]:
    """Every chapter's assignment, by folder name under solutions/."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*NBGRADER, *args], cwd=course, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_course(tmp: Path, names: list[str] | None = None) -> Path:
    """Copy the config and solutions/ into ``tmp`` and generate the assignments ``names`` (default: all) there."""
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    names = assignments() if names is None else names
    (course / "solutions").mkdir()
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    for name in names:
        run_nbgrader(course, "generate_assignment", "--force", name)
    return course


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
