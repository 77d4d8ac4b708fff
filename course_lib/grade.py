"""Grade a class: collect submissions, grade each in a sandbox, export a CSV, feedback and a report.

    python -m course_lib.grade ASSIGNMENT SUBMISSIONS [--out grading/ASSIGNMENT] [--timeout 120]
    [--jobs N] make grade ASSIGNMENT=02_normalised_positions
    SUBMISSIONS=$HOME/Downloads/submissions.zip

SUBMISSIONS may be
  * nbgrader's layout: a folder with one sub-folder per student, each holding
    ``<ASSIGNMENT>/<anything>.ipynb`` (or the notebook directly); the folder name is the student;
  * an LMS download: a .zip or a folder of files named ``<name>_<number>_…ipynb``
    (Canvas: ``lastfirst_12345_67890_name.ipynb``), or one folder per student
    (Moodle: ``Full Name_12345_assignsubmission_file_/name.ipynb``): the student is
    ``<name>-<number>`` (the LMS's user number keeps two "smithjohn"s apart).

Each submission is graded by ``course_lib.grading.harness`` in its own process, its code run in a
bubblewrap sandbox (see ``course_lib/grading/sandbox.py``); students are graded ``--jobs`` at a
time. The submissions are only ever read. Output in ``--out``: ``grades.csv`` (one row per student
seen, 0 for those with nothing gradable), ``feedback/<student>/<ASSIGNMENT>/<ASSIGNMENT>.html``,
``logs/<student>.txt`` (what the student's code printed, for you) and ``report.txt``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_UNPACKED_BYTES = 4 * 2**30     # a zip that unpacks to more is refused (zip bomb)
MAX_ZIP_ENTRIES = 20_000
SUBMISSION_RECORDS = ("timestamp.txt", "submission_secret.txt")
MAX_NOTES = 10                     # report lines per student


def _one_line(text: str, limit: int = 300) -> str:
    """A student-controlled message as one report line: no line breaks or control characters to
    forge other students' lines with, and not longer than ``limit``."""
    text = "".join(c if c.isprintable() else " " for c in str(text).replace("\n", " ⏎ "))
    return text if len(text) <= limit else text[:limit] + " …"


def _slug(text: str) -> str:
    # A file name that is not valid UTF-8 arrives with surrogate escapes: keep what can be read.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


def _lms_student_id(name: str) -> str:
    """``lastfirst_12345_…`` -> ``lastfirst-12345``: the name before the first underscore, plus the
    user number."""
    parts = name.split("_")
    number = next((p for p in parts[1:] if p.isdigit()), "")
    return "-".join(p for p in (_slug(parts[0]), number) if p) or "unknown"


def find_submissions(
    folder: Path, assignment: str
) -> tuple[dict[str, list[Path]], dict[str, list[str]]]:
    """Read-only walk of ``folder``: (student -> notebooks, student -> other files handed in).

    Two entries that would get the same student id are kept apart by a suffix (-2, -3, …).
    """
    notebooks: dict[str, list[Path]] = {}
    others: dict[str, list[str]] = {}
    seen_entries: dict[str, str] = {}

    def student_for(entry_name: str, student: str) -> str:
        base, n = student, 1
        while student in seen_entries and seen_entries[student] != entry_name:
            n += 1
            student = f"{base}-{n}"
        seen_entries[student] = entry_name
        return student

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "__MACOSX")):
            continue
        if entry.is_dir():
            nbgrader_layout = (entry / assignment).is_dir() or "_" not in entry.name
            inner = entry / assignment if (entry / assignment).is_dir() else entry
            student = student_for(
                entry.name, _slug(entry.name) if nbgrader_layout else _lms_student_id(entry.name)
            )
            files = [
                p
                for p in sorted(inner.rglob("*"))
                if p.is_file() and ".ipynb_checkpoints" not in p.parts
            ]
        else:
            student = _lms_student_id(entry.name)
            student = student_for(student, student)      # several files of one student share the id
            files = [entry]
        notebooks.setdefault(student, []).extend(p for p in files if p.suffix == ".ipynb")
        others.setdefault(student, []).extend(p.name for p in files if p.suffix != ".ipynb")
    return notebooks, others


def _unpack(archive_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_ENTRIES or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ValueError(
                f"{archive_path} holds {len(members)} files and unpacks to "
                f"{sum(m.file_size for m in members)} bytes; the limit is {MAX_ZIP_ENTRIES} files "
                f"and {MAX_UNPACKED_BYTES} bytes."
            )
        archive.extractall(into)          # zipfile drops absolute paths and ".." components
    entries = [p for p in into.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    # Unwrap a single top folder only if it is a wrapper, not one student's folder.
    if len(entries) == 1 and entries[0].is_dir() and "_" not in entries[0].name \
            and not any(entries[0].glob("*.ipynb")):
        return entries[0]
    return into


def collect(submissions: Path, assignment: str, course: Path) -> tuple[list[str], list[str]]:
    """Copy each student's notebook to
    ``course/submitted/<student>/<assignment>/<assignment>.ipynb``.

    Returns (every student seen, report lines). The originals are only read.
    """
    report = []
    notebooks_by_student, others = find_submissions(submissions, assignment)
    for student, notebooks in notebooks_by_student.items():
        if not notebooks:
            extra = f" (handed in: {', '.join(others[student])})" if others[student] else ""
            report.append(
                _one_line(f"{student}: no notebook found — not graded, scored 0{extra}", 600)
            )
            continue
        if len(notebooks) > 1:
            exact = [p for p in notebooks if p.name.endswith(f"{assignment}.ipynb")]
            if len(exact) != 1:
                report.append(
                    _one_line(
                        f"{student}: {len(notebooks)} notebooks and none clearly the submission — "
                        "not graded, scored 0: " + ", ".join(p.name for p in notebooks),
                        600,
                    )
                )
                continue
            notebooks = exact
        source = notebooks[0]
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)       # copy the bytes; the original is untouched
        target.chmod(0o644)
        # nbgrader's exchange leaves these beside a submission: the time it was handed in, and the
        # secret `nbgrader release_feedback` needs to hand the feedback back.
        for name in SUBMISSION_RECORDS:
            if (source.parent / name).is_file():
                shutil.copyfile(source.parent / name, target.parent / name)
        # Canvas marks late files with _LATE_ in the name
        if "_LATE_" in source.name or "_LATE_" in source.parent.name:
            (target.parent / "late.txt").write_text("marked late by the LMS\n")
        # LMS prefixes are fine
        if source.name != target.name and not source.name.endswith("_" + target.name):
            report.append(
                _one_line(
                    f"{student}: graded {source.name} as {target.name} (wrong file name)", 600
                )
            )
        else:
            report.append(f"{student}: collected")
    return sorted(notebooks_by_student), report



def _grade_one(assignment: str, student: str, course: Path, out: Path, slot: int, timeout: int,
               unsandboxed: bool) -> dict:
    """Run the harness for one student in its own process; its result, or a zero with the reason."""
    submission = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    result_path = course / "results" / f"{slot}-{student}.json"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    feedback = out / "feedback" / student / assignment / f"{assignment}.html"
    command = [
        sys.executable,
        "-m",
        "course_lib.grading.harness",
        str(ROOT / "solutions" / assignment / f"{assignment}.ipynb"),
        str(submission),
        str(result_path),
        "--timeout",
        str(timeout),
        "--slot",
        str(slot),
        "--student",
        student,
        "--feedback",
        str(feedback),
    ]
    ceiling = 30 * timeout + 300
    try:
        finished = subprocess.run(
            command + (["--unsandboxed"] if unsandboxed else []),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=ceiling,
            cwd=ROOT,
        )
        if finished.returncode == 0 and result_path.exists():
            return json.loads(result_path.read_text(encoding="utf-8"))
        why = (finished.stderr.strip().splitlines() or ["no message"])[-1][:300]
    except subprocess.TimeoutExpired:
        why = f"grading took longer than {ceiling} s"
    return {
        "score": 0.0,
        "tests": [],
        "problems": [f"the grader could not grade this notebook: {why}"],
        "cell_errors": {},
        "log": "",
        "seconds": 0.0,
    }


def _course_lib_problem() -> str | None:
    """Why a student's code would not run against this course's course_lib (None if it would).

    The code runs under ``python -I`` (isolated: the current folder is not on the path), so it
    imports course_lib the way this environment is installed. An environment installed from
    another copy of the course (``pip install -e`` elsewhere) would give every student 0 ("the
    grader's Python process did not start"), or grade against that other copy's checkers."""
    here = Path(__file__).resolve().parent
    found = subprocess.run(
        [sys.executable, "-I", "-c", "import course_lib; print(course_lib.__file__)"],
        capture_output=True, text=True, errors="replace", timeout=120,
    )
    fix = (f"Grade with this course's own environment (`make grade` in {ROOT}), or install the "
           f"course into this one: {sys.executable} -m pip install -e {ROOT}")
    if found.returncode != 0:
        why = (found.stderr.strip().splitlines() or ["no message"])[-1][:300]
        return f"this Python cannot import course_lib outside the course folder ({why}). {fix}"
    there = Path(found.stdout.strip()).resolve().parent
    if there != here:
        return (f"this Python's course_lib is {there}, but you are grading the course in {ROOT}: "
                f"students' code would run against the other copy. {fix}")
    return None


def grade(
    assignment: str,
    submissions: Path,
    out: Path,
    timeout: int = 120,
    jobs: int | None = None,
    unsandboxed: bool = False,
    due: str | None = None,
) -> Path:
    """Collect, grade in sandboxes, export; returns the path of the CSV. See the module
    docstring."""
    from course_lib.grading.harness import Assignment
    from course_lib.grading.sandbox import Sandbox

    solutions = ROOT / "solutions"
    if not (solutions / assignment).is_dir():
        known = (
            ", ".join(sorted(p.name for p in solutions.iterdir() if p.is_dir()))
            if solutions.is_dir()
            else ""
        )
        raise ValueError(
            f"unknown assignment {assignment!r}; the course has: {known or 'no solutions/ folder'}."
        )
    if timeout < 1:
        raise ValueError(f"timeout must be at least 1 second per cell, got {timeout}.")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}.")
    submissions = Path(submissions).expanduser()
    if not (submissions.is_dir() or (submissions.is_file() and submissions.suffix == ".zip")):
        raise ValueError(f"SUBMISSIONS must be a folder or a .zip file, got {submissions}.")
    due_time = _parse_time(due, "due") if due else None
    if not unsandboxed:
        problem = Sandbox().problem()
        if problem:
            raise ValueError(problem)
    problem = _course_lib_problem()
    if problem:
        raise ValueError(problem)
    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    tests = Assignment.read(solutions / assignment / f"{assignment}.ipynb").tests
    max_score = sum(points for _, _, points in tests)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="grading_") as scratch:
        scratch = Path(scratch)
        if submissions.is_file():
            submissions = _unpack(submissions, scratch / "unpacked")
        course = scratch / "course"
        course.mkdir()
        students, report = collect(submissions, assignment, course)
        collected = (
            sorted(p.name for p in (course / "submitted").iterdir())
            if (course / "submitted").exists()
            else []
        )
        # Parallel slots: each has its own sandbox user (as root), so one student's processes never
        # count against another's limit.
        slots = queue.Queue()
        for slot in range(jobs):
            slots.put(slot)

        def run(student):
            slot = slots.get()
            try:
                return student, _grade_one(
                    assignment, student, course, out, slot, timeout, unsandboxed
                )
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = dict(pool.map(run, collected))
        for student in collected:
            folder = course / "submitted" / student / assignment
            results[student]["timestamp"] = _read_time(folder / "timestamp.txt")
            results[student]["late"] = _lateness(results[student]["timestamp"], due_time, folder)
            feedback = out / "feedback" / student / assignment
            for name in SUBMISSION_RECORDS:
                if (folder / name).is_file() and feedback.is_dir():
                    shutil.copyfile(folder / name, feedback / name)
    if not unsandboxed and any(
        results[s].get("cgroup") is None and results[s].get("tests") for s in collected
    ):
        report.insert(
            0,
            "WARNING: control groups could not be made here (run as root on Linux for them): "
            "memory "
            "and CPU limits held per process, not per student.",
        )
    if unsandboxed:
        report.insert(
            0,
            "WARNING: graded with --unsandboxed: student code ran with your permissions, "
            "not in a sandbox.",
        )
    for student in collected:
        result = results[student]
        late = f", late by {result['late']}" if result.get("late") else ""
        report.append(
            f"{student}: {result['score']:g} / {max_score:g} ({result.get('seconds', 0):g} s{late})"
        )
        notes = [f"{label}: {message}" for label, message in result.get("cell_errors", {}).items()]
        notes += list(result.get("problems", []))
        report += [f"{student}:   {_one_line(note)}" for note in notes[:MAX_NOTES]]
        if len(notes) > MAX_NOTES:
            report.append(
                f"{student}:   … and {len(notes) - MAX_NOTES} more (see feedback/{student}/)"
            )
        log = out / "logs" / f"{student}.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(result.get("log", ""), encoding="utf-8", errors="replace")
    _write_csv(out / "grades.csv", assignment, students, results, tests)
    (out / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8", errors="replace")
    return out / "grades.csv"


def _parse_time(text: str, what: str):
    """A date and time as nbgrader writes it ("2026-12-01 17:00:00.123 UTC") or as an instructor
    types it ("2026-12-01 17:00", taken as UTC unless it names an offset)."""
    from datetime import datetime, timezone

    cleaned = text.strip().removesuffix(" UTC").replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{what} must be a date and time like '2026-12-01 17:00' (UTC), got {text!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _read_time(path: Path) -> str | None:
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()[:100]
    try:
        return _parse_time(text, "timestamp.txt").isoformat(sep=" ")
    except ValueError:
        return None


def _lateness(timestamp: str | None, due, folder: Path) -> str:
    """'' if on time or unknown; otherwise how late (or the LMS's own mark)."""
    if (folder / "late.txt").is_file():
        return "marked late by the LMS"
    if due is None or timestamp is None:
        return ""
    delay = _parse_time(timestamp, "timestamp") - due
    return str(delay).split(".")[0] if delay.total_seconds() > 0 else ""


def _write_csv(
    path: Path, assignment: str, students: list[str], results: dict[str, dict], tests
) -> None:
    """One row per student seen: total, maximum and the points of each test; 0 for those not
    graded."""
    max_score = sum(points for _, _, points in tests)
    fields = ["assignment", "student_id", "score", "max_score", "timestamp", "late"] + [
        g for g, _, _ in tests
    ]
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for student in sorted(students):
            result = results.get(student, {})
            earned = {t["grade_id"]: t["points"] for t in result.get("tests", [])}
            row = {
                "assignment": assignment,
                "student_id": student,
                "score": f"{result.get('score', 0.0):g}",
                "max_score": f"{max_score:g}",
                "timestamp": result.get("timestamp") or "",
                "late": result.get("late") or "",
            }
            row.update({grade_id: f"{earned.get(grade_id, 0.0):g}" for grade_id, _, _ in tests})
            writer.writerow(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("assignment", help="e.g. 02_normalised_positions")
    parser.add_argument(
        "submissions", type=Path, help="folder (nbgrader or LMS layout) or LMS .zip"
    )
    parser.add_argument("--out", type=Path, default=None, help="where grades.csv and feedback/ go "
                        "(default: grading/ASSIGNMENT)")
    parser.add_argument(
        "--timeout",
        type=int,
        default=120,
        help="seconds allowed per cell and per test (default 120)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="students graded at once (default: the core count)"
    )
    parser.add_argument(
        "--due",
        default=None,
        help="due date and time, e.g. '2026-12-01 17:00' (UTC): later "
        "submissions (by nbgrader's timestamp.txt) are flagged in grades.csv and report.txt",
    )
    parser.add_argument(
        "--unsandboxed",
        action="store_true",
        help="grade without bubblewrap (student code runs with your permissions; report.txt warns)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path("grading") / args.assignment
    try:
        csv_path = grade(
            args.assignment,
            args.submissions,
            out,
            args.timeout,
            args.jobs,
            args.unsandboxed,
            args.due,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print((out / "report.txt").read_text(encoding="utf-8"), end="")
    print(f"grades: {csv_path}\nfeedback: {out / 'feedback'}")


if __name__ == "__main__":
    main()
