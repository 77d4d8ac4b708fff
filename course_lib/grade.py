"""Grade a class: collect submissions, autograde them with nbgrader, export a CSV and feedback.

    python -m course_lib.grade ASSIGNMENT SUBMISSIONS [--out grading] [--timeout 120]
    make grade ASSIGNMENT=02_normalised_positions SUBMISSIONS=~/Downloads/submissions.zip

SUBMISSIONS may be
  * nbgrader's layout: a folder with one sub-folder per student, each holding
    ``<ASSIGNMENT>/<anything>.ipynb`` (or the notebook directly);
  * an LMS download: a .zip or a folder of files named ``<student>_<anything>.ipynb``
    (Canvas: ``lastfirst_12345_67890_name.ipynb``), possibly one folder per student
    (Moodle: ``Full Name_12345_assignsubmission_file_/name.ipynb``): the student is
    the part before the first underscore.

Grading happens in a throw-away nbgrader course built from ``solutions/``; the
submissions are only ever read (copied in, never written). A notebook under the
wrong file name is graded under the right one, and the report says so. Output in
``--out``: ``grades.csv`` (one row per student), ``feedback/<student>/…html`` and
``report.txt`` (what was collected, renamed or skipped).
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _student_id(name: str) -> str:
    """The LMS convention: the student is what comes before the first underscore."""
    student = re.sub(r"[^A-Za-z0-9.-]+", "-", name.split("_", 1)[0]).strip("-")
    return student or "unknown"


def find_submissions(folder: Path, assignment: str) -> dict[str, list[Path]]:
    """student -> the notebooks found for them (read-only walk of ``folder``)."""
    found: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            inner = entry / assignment if (entry / assignment).is_dir() else entry
            student = entry.name if inner is not entry or "_" not in entry.name else _student_id(entry.name)
            notebooks = sorted(p for p in inner.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            found.setdefault(student, []).extend(notebooks)
        elif entry.suffix == ".ipynb":
            found.setdefault(_student_id(entry.name), []).append(entry)
    return found


def collect(submissions: Path, assignment: str, course: Path) -> list[str]:
    """Copy each student's notebook to ``course/submitted/<student>/<assignment>/<assignment>.ipynb``.

    Returns report lines. The originals are only read.
    """
    report = []
    if submissions.is_file() and submissions.suffix == ".zip":
        unpacked = Path(tempfile.mkdtemp(prefix="lms_zip_"))
        with zipfile.ZipFile(submissions) as archive:
            archive.extractall(unpacked)
        # A zip often wraps everything in one top folder.
        entries = [p for p in unpacked.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        submissions = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
    elif not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS must be a folder or a .zip file, got {submissions}.")
    for student, notebooks in find_submissions(submissions, assignment).items():
        if not notebooks:
            report.append(f"{student}: no notebook found — not graded")
            continue
        if len(notebooks) > 1:
            exact = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
            if len(exact) != 1:
                report.append(f"{student}: {len(notebooks)} notebooks and none clearly the submission — not graded: "
                              + ", ".join(p.name for p in notebooks))
                continue
            notebooks = exact
        source = notebooks[0]
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)       # copy the bytes; the original is untouched
        if source.name != target.name and not source.name.endswith("_" + target.name):   # LMS prefixes are fine
            report.append(f"{student}: graded {source.name} as {target.name} (wrong file name)")
        else:
            report.append(f"{student}: collected")
    return report


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True)


def grade(assignment: str, submissions: Path, out: Path, timeout: int = 120) -> Path:
    """Collect, autograde, export; returns the path of the CSV. See the module docstring."""
    if not (ROOT / "solutions" / assignment).is_dir():
        known = ", ".join(sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
        raise ValueError(f"unknown assignment {assignment!r}; the course has: {known}.")
    if timeout < 1:
        raise ValueError(f"timeout must be at least 1 second per cell, got {timeout}.")
    submissions = Path(submissions)
    if not (submissions.is_dir() or (submissions.is_file() and submissions.suffix == ".zip")):
        raise ValueError(f"SUBMISSIONS must be a folder or a .zip file, got {submissions}.")
    out.mkdir(parents=True, exist_ok=True)
    course = Path(tempfile.mkdtemp(prefix="grading_course_"))
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    result = _nbgrader(course, "generate_assignment", "--force", assignment)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.stderr[-2000:]}")

    report = collect(submissions, assignment, course)
    students = sorted(p.name for p in (course / "submitted").iterdir()) if (course / "submitted").exists() else []
    # One student at a time: a submission that crashes nbgrader itself cannot stop the others.
    for student in students:
        result = _nbgrader(course, "autograde", assignment, "--force", "--student", student,
                           f"--ExecutePreprocessor.timeout={timeout}")
        if result.returncode != 0:
            report.append(f"{student}: nbgrader could not grade this notebook (scored 0): "
                          + (result.stderr.strip().splitlines() or ["no message"])[-1][:300])
    _nbgrader(course, "generate_feedback", assignment, "--force")
    result = _nbgrader(course, "export", "--to", str((out / "grades.csv").resolve()))
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{result.stderr[-2000:]}")
    _add_missing_students(out / "grades.csv", assignment, students)
    if (course / "feedback").exists():
        shutil.copytree(course / "feedback", out / "feedback", dirs_exist_ok=True)
    (out / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    shutil.rmtree(course, ignore_errors=True)
    return out / "grades.csv"


def _add_missing_students(csv_path: Path, assignment: str, students: list[str]) -> None:
    """nbgrader exports only students it could grade; list every collected student, 0 for the others."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0].keys()) if rows else ["assignment", "student_id", "score", "max_score"]
    present = {(r.get("assignment"), r.get("student_id")) for r in rows}
    for student in students:
        if (assignment, student) not in present:
            row = dict.fromkeys(fields, "")
            row.update({"assignment": assignment, "student_id": student, "score": "0.0"})
            rows.append(row)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="e.g. 02_normalised_positions")
    parser.add_argument("submissions", type=Path, help="folder (nbgrader or LMS layout) or LMS .zip")
    parser.add_argument("--out", type=Path, default=Path("grading"), help="where grades.csv and feedback/ go")
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    args = parser.parse_args(argv)
    try:
        csv_path = grade(args.assignment, args.submissions, args.out, args.timeout)
    except ValueError as error:
        parser.error(str(error))
    print((args.out / "report.txt").read_text(), end="")
    print(f"grades: {csv_path}\nfeedback: {args.out / 'feedback'}")


if __name__ == "__main__":
    main()
