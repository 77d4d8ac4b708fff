"""The JupyterHub route end to end, on one machine with a simulated exchange (README: "Large
classes").

release_assignment -> two students fetch and submit -> collect -> make grade (sandboxed, with a due
date) -> release_feedback -> each student fetch_feedback. Claims: scores are right (10 and 0),
grades.csv has each submission's time and flags the one handed in after the due date, and each
student receives their own feedback page through nbgrader's exchange.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import filled_in, new_course, run_nbgrader

from course_lib.grade import grade

pytestmark = pytest.mark.slow

A = "01_integer_dimension"
COURSE_ID = "pe-test"


def _student_nbgrader(home: Path, exchange: Path, student: str, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--course={COURSE_ID}",
                             f"--Exchange.root={exchange}", f"--Exchange.cache={home / 'cache'}",
                             f"--CourseDirectory.student_id={student}"],
                            cwd=home, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_release_submit_collect_grade_and_hand_back_feedback_through_the_exchange(tmp_path):
    course = new_course(tmp_path / "course", [A])
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)                     # what the README tells instructors to create
    common = (f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}")
    run_nbgrader(course, "release_assignment", A, *common)

    source = nbformat.read(course / "solutions" / A / f"{A}.ipynb", as_version=4)
    homes = {}
    for student in ("alice", "bob"):
        homes[student] = tmp_path / "home" / student
        homes[student].mkdir(parents=True)
        _student_nbgrader(homes[student], exchange, student, "fetch_assignment", A)
        notebook_path = homes[student] / A / f"{A}.ipynb"
        released = nbformat.read(notebook_path, as_version=4)
        if student == "alice":
            nbformat.write(filled_in(released, source), notebook_path)
        _student_nbgrader(homes[student], exchange, student, "submit", A)
        if student == "alice":
            due = datetime.now(timezone.utc)   # alice handed in before it, bob after
            time.sleep(1.5)
    run_nbgrader(course, "collect", A, *common)

    out = course / "grading" / A
    csv_path = grade(
        A, course / "submitted", out, timeout=30, jobs=2, due=due.strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    with open(csv_path, newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"alice": 10.0, "bob": 0.0}
    for student, row in rows.items():
        submitted = (course / "submitted" / student / A / "timestamp.txt").read_text().strip()
        assert row["timestamp"][:19] == submitted[:19], (row["timestamp"], submitted)
    assert rows["alice"]["late"] == "" and rows["bob"]["late"] != "", rows

    run_nbgrader(course, "release_feedback", A, *common,
                 f"--CourseDirectory.feedback_directory={out.relative_to(course) / 'feedback'}")
    for student, expected in (("alice", "10 / 10"), ("bob", "0 / 10")):
        _student_nbgrader(homes[student], exchange, student, "fetch_feedback", A)
        pages = list((homes[student] / A / "feedback").rglob("*.html"))
        assert len(pages) == 1, pages
        assert f"{A}: {expected}" in pages[0].read_text(), student
