"""Grader calibration: a grader is trusted only if it separates right from wrong.

For every chapter, graded the way a class is (``course_lib.grade``: each submission
in its own sandbox, the tests judged outside it): the blank exercise scores
0, the instructor's solution scores 10, and each realistic wrong answer in
tests/calibration/<chapter>.py loses exactly the points of the exercise it
breaks (and keeps the others). A corpus may also list RIGHT_ANSWERS: correct
solutions written differently from the instructor's (another dtype, a loop),
which must score full marks — a grader that is too strict is miscalibrated too.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import ROOT, assignments, filled_in, nbgrader_meta, submit

from course_lib.grade import grade

pytestmark = pytest.mark.slow
TOTAL_POINTS = 10


def _corpus_module(assignment: str):
    path = ROOT / "tests" / "calibration" / f"{assignment}.py"
    assert path.exists(), f"{assignment} has no calibration corpus at {path.relative_to(ROOT)}"
    spec = importlib.util.spec_from_file_location(f"corpus_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus(assignment: str) -> dict:
    return _corpus_module(assignment).WRONG_ANSWERS


def right_answers(assignment: str) -> dict:
    return getattr(_corpus_module(assignment), "RIGHT_ANSWERS", {})


def wrong_id(i: int) -> str:
    return f"wrong{i:02d}"


def right_id(i: int) -> str:
    return f"right{i:02d}"


def _grade_one(tmp: Path, name: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Blank, solution and every corpus answer, graded as one class: student -> test cell -> (score,
    max)."""
    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "exercises" / name / f"{name}.ipynb", as_version=4)
    submit(tmp, name, "blank", release)
    submit(tmp, name, "solution", filled_in(release, source))
    for i, wrong in enumerate(corpus(name).values()):
        submit(tmp, name, wrong_id(i), filled_in(release, source, {wrong["cell"]: wrong["source"]}))
    for i, right in enumerate(right_answers(name).values()):
        submit(tmp, name, right_id(i), filled_in(release, source, {right["cell"]: right["source"]}))
    csv_path = grade(name, tmp / "submitted", tmp / "out", timeout=120, jobs=2)
    points = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
              for c in source.cells if nbgrader_meta(c).get("grade")}
    with open(csv_path, newline="") as f:
        return {row["student_id"]: {cell: (float(row[cell]), points[cell]) for cell in points}
                for row in csv.DictReader(f)}


class _GradedClasses(dict):
    """assignment -> its graded class, graded on first use (so `-k 05_rope` grades only chapter
    05)."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self.tmp_path_factory = tmp_path_factory

    def __missing__(self, name):
        self[name] = _grade_one(self.tmp_path_factory.mktemp(f"calibration_{name}"), name)
        return self[name]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """assignment -> its graded class (each class graded two students at a time)."""
    return _GradedClasses(tmp_path_factory)


def scores(graded_class: dict, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    return graded_class[student]


@pytest.mark.parametrize("assignment", assignments())
def test_corpus_is_large_enough_and_aims_at_real_cells(assignment):
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    solution_cells = {
        nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("solution")
    }
    test_cells = {
        nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade")
    }
    wrong_answers = corpus(assignment)
    assert len(wrong_answers) >= 3
    for label, wrong in wrong_answers.items():
        assert wrong["cell"] in solution_cells, label
        assert set(wrong["breaks"]) <= test_cells, label
    # Every exercise is targeted by at least one wrong answer.
    assert {t for w in wrong_answers.values() for t in w["breaks"]} == test_cells


@pytest.mark.parametrize("assignment", assignments())
def test_blank_scores_zero(graded, assignment):
    result = scores(graded[assignment], assignment, "blank")
    assert sum(s for s, _ in result.values()) == 0, result


@pytest.mark.parametrize("assignment", assignments())
def test_solution_scores_full_marks(graded, assignment):
    result = scores(graded[assignment], assignment, "solution")
    assert sum(m for _, m in result.values()) == TOTAL_POINTS
    assert all(s == m for s, m in result.values()), result


@pytest.mark.parametrize(
    "assignment, index, label",
    [(a, i, label) for a in assignments() for i, label in enumerate(corpus(a))],
)
def test_each_wrong_answer_loses_the_points_of_the_exercise_it_breaks(
    graded, assignment, index, label
):
    wrong = corpus(assignment)[label]
    result = scores(graded[assignment], assignment, wrong_id(index))
    for cell, (score, max_score) in result.items():
        if cell in wrong["breaks"]:
            assert score == 0, f"'{label}' should lose {cell}, but scored {score}/{max_score}"
        else:
            assert score == max_score, (
                f"'{label}' should keep {cell}, but scored {score}/{max_score}"
            )
    assert sum(s for s, _ in result.values()) < TOTAL_POINTS


@pytest.mark.parametrize(
    "assignment, index, label",
    [(a, i, label) for a in assignments() for i, label in enumerate(right_answers(a))],
)
def test_each_alternative_right_answer_scores_full_marks(graded, assignment, index, label):
    result = scores(graded[assignment], assignment, right_id(index))
    assert all(s == m for s, m in result.values()), f"'{label}' is correct but scored {result}"
    assert sum(m for _, m in result.values()) == TOTAL_POINTS
