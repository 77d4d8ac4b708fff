"""Grading a whole class with `python -m course_lib.grade` (make grade): the robustness corpus.

Beside a correct submission, a class holds the submissions that break graders:
an infinite loop, a cell that raises, an edited locked test cell, a deleted test
cell, 10 MB of printed output, an empty notebook, a wrong file name and correct
answers that print warnings. The run must finish, give each the score it deserves,
write one CSV row per student and feedback without hidden-test code, and never
modify a submission — in nbgrader's layout and in an LMS zip. (Hostile submissions
are in tests/test_grade_attacks.py.)
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import (
    ROOT,
    csv_scores,
    filled_in,
    fingerprint,
    hidden_test_lines,
    nbgrader_meta,
    points_per_test,
    submit,
)

from course_lib.grade import grade

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_integer_dimension"       # no training inside: each submission runs in seconds
# grade_id -> points, read from the instructor's notebook
POINTS = points_per_test(ASSIGNMENT)
TOTAL = sum(POINTS.values())
TIMEOUT = 10                              # seconds per cell, so the infinite loop costs little


def _release():
    return nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def _source():
    return nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def corpus() -> dict[str, tuple[str, object, int]]:
    """student -> (file name, notebook, expected score)."""
    correct = filled_in(_release(), _source())
    cases = {"alice": (f"{ASSIGNMENT}.ipynb", correct, TOTAL)}

    looping = filled_in(
        _release(),
        _source(),
        {"row_entropy": "def row_entropy(weights):\n    while True:\n        pass"},
    )
    # The test cell calls row_entropy: it hits the per-cell timeout and loses its 3 points; the rest
    # still runs.
    cases["bob"] = (f"{ASSIGNMENT}.ipynb", looping, TOTAL - POINTS["test_row_entropy"])

    raising = filled_in(_release(), _source(), {"logit_growth": "raise RuntimeError('I give up')"})
    cases["carol"] = (f"{ASSIGNMENT}.ipynb", raising, TOTAL - POINTS["test_logit_growth"])

    # Wrong answer, and the student "fixed" the locked test to pass: nbgrader restores the real
    # test.
    tampered = filled_in(
        _release(),
        _source(),
        {"logit_growth": "def logit_growth(n_short, n_long):\n    return 1.0"},
    )
    _cell(tampered, "test_logit_growth").source = "print('✓ exercise 3: visible tests passed')"
    cases["dave"] = (f"{ASSIGNMENT}.ipynb", tampered, TOTAL - POINTS["test_logit_growth"])

    # Test cells are the instructor's, run by the grader: deleting one neither earns nor costs
    # points.
    deleted = filled_in(_release(), _source())
    deleted.cells = [
        c for c in deleted.cells if nbgrader_meta(c).get("grade_id") != "test_row_entropy"
    ]
    cases["erin"] = (f"{ASSIGNMENT}.ipynb", deleted, TOTAL)

    noisy = filled_in(_release(), _source())
    _cell(noisy, "append_position").source += "\nprint('x' * 10_000_000)"
    cases["frank"] = (f"{ASSIGNMENT}.ipynb", noisy, TOTAL)

    empty = copy.deepcopy(_release())
    empty.cells = []
    cases["gina"] = (f"{ASSIGNMENT}.ipynb", empty, 0)

    cases["hank"] = ("homework_final_v2.ipynb", filled_in(_release(), _source()), TOTAL)

    # Correct answers that write to stderr (nbgrader gave such test cells 0): a print to stderr on
    # every call, and a warning only on an edge case the hidden tests reach.
    warning = filled_in(
        _release(),
        _source(),
        {
            "append_position": "import sys\ndef append_position(x):\n"
            "    print('appending', tuple(x.shape), file=sys.stderr)\n"
            "    positions = torch.arange(x.shape[1], dtype=x.dtype)[None, :, None]\n"
            "    return torch.cat([x, positions.expand(x.shape[0], -1, 1)], dim=-1)",
            "logit_growth": "import warnings\ndef logit_growth(n_short, n_long):\n"
            "    if n_long < n_short:\n        warnings.warn('the sequence got shorter')\n"
            "    return ((n_long - 1) / (n_short - 1)) ** 2",
        },
    )
    cases["ivan"] = (f"{ASSIGNMENT}.ipynb", warning, TOTAL)
    return cases


def _check(result_dir: Path, cases, scores):
    assert set(scores) == set(cases), f"one CSV row per student: {sorted(scores)}"
    for student, (_, _, expected) in cases.items():
        if expected is not None:
            assert scores[student] == expected, (
                f"{student}: scored {scores[student]}, expected {expected}"
            )
    report = (result_dir / "report.txt").read_text()
    assert "hank: graded homework_final_v2.ipynb" in report
    assert "bob:   test_row_entropy" not in report
    # Every submission, broken or not, was graded and has feedback to hand back...
    assert "could not grade" not in report, report
    for student in cases:
        assert (result_dir / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file(), (
            student
        )
    # ...that says why a test failed, without the hidden tests' code.
    bob = (result_dir / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "did not finish within" in bob
    hidden = hidden_test_lines(ASSIGNMENT)
    for page in (result_dir / "feedback").rglob("*.html"):
        text = page.read_text()
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page} shows hidden-test code: {leaked[:3]}"


def test_grading_a_class_in_nbgrader_layout_survives_every_broken_submission(tmp_path):
    cases = corpus()
    submissions = tmp_path / "submitted"
    for student, (name, nb, _) in cases.items():
        submit(tmp_path, ASSIGNMENT, student, nb, name)
    before = fingerprint(submissions)
    csv_path = grade(ASSIGNMENT, submissions, tmp_path / "out", timeout=TIMEOUT)
    assert fingerprint(submissions) == before, "a submission was modified"
    _check(tmp_path / "out", cases, csv_scores(csv_path))


def test_grading_an_lms_zip_download(tmp_path):
    cases = {k: v for k, v in corpus().items() if k in ("alice", "carol", "hank")}
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, (student, (name, nb, _)) in enumerate(cases.items()):
            # Canvas style: <student>_<user id>_<submission id>_<file name>
            z.writestr(f"{student}_{1000 + i}_{2000 + i}_{name}", nbformat.writes(nb))
    before = hashlib.sha256(archive.read_bytes()).hexdigest()
    csv_path = grade(ASSIGNMENT, archive, tmp_path / "out", timeout=TIMEOUT)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == before
    scores = csv_scores(csv_path)
    assert scores == {
        "alice-1000": TOTAL,
        "carol-1001": TOTAL - POINTS["test_logit_growth"],
        "hank-1002": TOTAL,
    }


def test_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown assignment 'nope'"):
        grade("nope", tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="must be a folder or a .zip"):
        grade(ASSIGNMENT, tmp_path / "missing.txt", tmp_path / "out")


def test_without_a_sandbox_grading_refuses_unless_told_and_then_warns(tmp_path, monkeypatch):
    import course_lib.grading.sandbox as sandbox

    cases = {k: v for k, v in corpus().items() if k in ("alice", "carol")}
    for student, (name, nb, _) in cases.items():
        (tmp_path / "in" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "in" / student / ASSIGNMENT / name)
    real_which = sandbox.shutil.which
    monkeypatch.setattr(
        sandbox.shutil, "which", lambda tool: None if tool == "bwrap" else real_which(tool)
    )
    with pytest.raises(
        ValueError, match=r"needs `bwrap`.*apt-get install bubblewrap.*--unsandboxed"
    ):
        grade(ASSIGNMENT, tmp_path / "in", tmp_path / "out", timeout=TIMEOUT)
    csv_path = grade(
        ASSIGNMENT, tmp_path / "in", tmp_path / "out", timeout=TIMEOUT, unsandboxed=True
    )
    assert csv_scores(csv_path) == {"alice": TOTAL, "carol": TOTAL - POINTS["test_logit_growth"]}
    assert (
        (tmp_path / "out" / "report.txt")
        .read_text()
        .startswith("WARNING: graded with --unsandboxed")
    )


def test_grading_from_another_copy_of_the_course_stops_with_the_reason(tmp_path):
    """An instructor grades from a second copy of the course with this environment, whose editable
    install points here: students' code (run under ``python -I``) would import the other copy's
    course_lib. Measured before the check: every student got 0 ("the grader's Python process did
    not start") and the real reason was only in logs/. Now the run stops before grading anyone."""
    other = tmp_path / "other-copy"
    shutil.copytree(ROOT / "course_lib", other / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, other / "solutions" / ASSIGNMENT)
    name, nb, _ = corpus()["alice"]
    (tmp_path / "in" / "alice" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(nb, tmp_path / "in" / "alice" / ASSIGNMENT / name)
    run = subprocess.run(
        [sys.executable, "-m", "course_lib.grade", ASSIGNMENT, str(tmp_path / "in"),
         "--out", str(tmp_path / "out")],
        cwd=other, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"course_lib is {ROOT / 'course_lib'}" in run.stderr, run.stderr
    assert f"grading the course in {other}" in run.stderr, run.stderr
    assert "pip install -e" in run.stderr, run.stderr
    assert not (tmp_path / "out" / "grades.csv").exists(), "no zeros written for anyone"
