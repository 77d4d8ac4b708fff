"""Grader calibration: a grader is trusted only if it separates right from wrong.

For every chapter, in a throw-away nbgrader course: the blank exercise scores
0, the instructor's solution scores 10, and each realistic wrong answer in
tests/calibration/<chapter>.py loses exactly the points of the exercise it
breaks (and keeps the others).
"""

from __future__ import annotations

import importlib.util

import nbformat
import pytest

from nbgrader_course import (
    ROOT, assignments, autograde, filled_in, make_course, nbgrader_meta, scores, submit,
)

pytestmark = pytest.mark.slow
TOTAL_POINTS = 10


def corpus(assignment: str) -> dict:
    path = ROOT / "tests" / "calibration" / f"{assignment}.py"
    assert path.exists(), f"{assignment} has no calibration corpus at {path.relative_to(ROOT)}"
    spec = importlib.util.spec_from_file_location(f"corpus_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG_ANSWERS


def wrong_id(i: int) -> str:
    return f"wrong{i:02d}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Submit blank, solution and every wrong answer for every assignment; autograde once each."""
    course = make_course(tmp_path_factory.mktemp("calibration"))
    for name in assignments():
        source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        release = nbformat.read(course / "exercises" / name / f"{name}.ipynb", as_version=4)
        submit(course, name, "blank", release)
        submit(course, name, "solution", filled_in(release, source))
        for i, wrong in enumerate(corpus(name).values()):
            submit(course, name, wrong_id(i), filled_in(release, source, {wrong["cell"]: wrong["source"]}))
        autograde(course, name)
    return course


@pytest.mark.parametrize("assignment", assignments())
def test_corpus_is_large_enough_and_aims_at_real_cells(assignment):
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    solution_cells = {nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("solution")}
    test_cells = {nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade")}
    wrong_answers = corpus(assignment)
    assert len(wrong_answers) >= 3
    for label, wrong in wrong_answers.items():
        assert wrong["cell"] in solution_cells, label
        assert set(wrong["breaks"]) <= test_cells, label
    # Every exercise is targeted by at least one wrong answer.
    assert {t for w in wrong_answers.values() for t in w["breaks"]} == test_cells


@pytest.mark.parametrize("assignment", assignments())
def test_blank_scores_zero(graded, assignment):
    result = scores(graded, assignment, "blank")
    assert sum(s for s, _ in result.values()) == 0, result


@pytest.mark.parametrize("assignment", assignments())
def test_solution_scores_full_marks(graded, assignment):
    result = scores(graded, assignment, "solution")
    assert sum(m for _, m in result.values()) == TOTAL_POINTS
    assert all(s == m for s, m in result.values()), result


@pytest.mark.parametrize(
    "assignment, index, label",
    [(a, i, label) for a in assignments() for i, label in enumerate(corpus(a))],
)
def test_each_wrong_answer_loses_the_points_of_the_exercise_it_breaks(graded, assignment, index, label):
    wrong = corpus(assignment)[label]
    result = scores(graded, assignment, wrong_id(index))
    for cell, (score, max_score) in result.items():
        if cell in wrong["breaks"]:
            assert score == 0, f"'{label}' should lose {cell}, but scored {score}/{max_score}"
        else:
            assert score == max_score, f"'{label}' should keep {cell}, but scored {score}/{max_score}"
    assert sum(s for s, _ in result.values()) < TOTAL_POINTS
