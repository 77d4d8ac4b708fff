"""Grade a class: collect submissions, autograde them with nbgrader, export a CSV and feedback.

    python -m course_lib.grade ASSIGNMENT SUBMISSIONS [--out grading/ASSIGNMENT] [--timeout 120]
    make grade ASSIGNMENT=02_normalised_positions SUBMISSIONS=$HOME/Downloads/submissions.zip

SUBMISSIONS may be
  * nbgrader's layout: a folder with one sub-folder per student, each holding
    ``<ASSIGNMENT>/<anything>.ipynb`` (or the notebook directly); the folder name is the student;
  * an LMS download: a .zip or a folder of files named ``<name>_<number>_…ipynb``
    (Canvas: ``lastfirst_12345_67890_name.ipynb``), or one folder per student
    (Moodle: ``Full Name_12345_assignsubmission_file_/name.ipynb``): the student is
    ``<name>-<number>`` (the LMS's user number keeps two "smithjohn"s apart).

Grading happens in a throw-away nbgrader course built from ``solutions/``; the
submissions are only ever read (copied in, never written). A notebook under the
wrong file name is graded under the right one, and the report says so. Output in
``--out``: ``grades.csv`` (one row per student seen, 0 for those with nothing
gradable), ``feedback/<student>/…html`` (hidden tests removed) and ``report.txt``.
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
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


def _lms_student_id(name: str) -> str:
    """``lastfirst_12345_…`` -> ``lastfirst-12345``: the name before the first underscore, plus the user number."""
    parts = name.split("_")
    number = next((p for p in parts[1:] if p.isdigit()), "")
    return "-".join(p for p in (_slug(parts[0]), number) if p) or "unknown"


def find_submissions(folder: Path, assignment: str) -> tuple[dict[str, list[Path]], dict[str, list[str]]]:
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
            student = student_for(entry.name, _slug(entry.name) if nbgrader_layout else _lms_student_id(entry.name))
            files = [p for p in sorted(inner.rglob("*")) if p.is_file() and ".ipynb_checkpoints" not in p.parts]
        else:
            student = _lms_student_id(entry.name)
            student = student_for(student, student)      # several files of one student share the id
            files = [entry]
        notebooks.setdefault(student, []).extend(p for p in files if p.suffix == ".ipynb")
        others.setdefault(student, []).extend(p.name for p in files if p.suffix != ".ipynb")
    return notebooks, others


def _unpack(archive_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(into)          # zipfile drops absolute paths and ".." components
    entries = [p for p in into.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    # Unwrap a single top folder only if it is a wrapper, not one student's folder.
    if len(entries) == 1 and entries[0].is_dir() and "_" not in entries[0].name \
            and not any(entries[0].glob("*.ipynb")):
        return entries[0]
    return into


def collect(submissions: Path, assignment: str, course: Path) -> tuple[list[str], list[str]]:
    """Copy each student's notebook to ``course/submitted/<student>/<assignment>/<assignment>.ipynb``.

    Returns (every student seen, report lines). The originals are only read.
    """
    report = []
    notebooks_by_student, others = find_submissions(submissions, assignment)
    for student, notebooks in notebooks_by_student.items():
        if not notebooks:
            extra = f" (handed in: {', '.join(others[student])})" if others[student] else ""
            report.append(f"{student}: no notebook found — not graded, scored 0{extra}")
            continue
        if len(notebooks) > 1:
            exact = [p for p in notebooks if p.name.endswith(f"{assignment}.ipynb")]
            if len(exact) != 1:
                report.append(f"{student}: {len(notebooks)} notebooks and none clearly the submission — not graded, "
                              "scored 0: " + ", ".join(p.name for p in notebooks))
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
    return sorted(notebooks_by_student), report


def run_nbgrader(course: Path, *args: str, timeout: float | None = None, check: bool = False):
    """Run ``nbgrader *args`` in ``course`` (nbgrader must run from the course root); raise if ``check`` and it fails."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result


def new_course(course: Path, assignments: list[str]) -> Path:
    """A throw-away nbgrader course at ``course``: the config, the given solutions/, each assignment generated."""
    course.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for name in assignments:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    for name in assignments:
        run_nbgrader(course, "generate_assignment", "--force", name, check=True)
    return course


def _strip_hidden_tests(autograded: Path) -> None:
    """Feedback is rendered from autograded/: remove the hidden tests' code so students don't receive it."""
    import nbformat

    for path in autograded.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
                cell.source = HIDDEN_TESTS.sub("# (hidden tests were run here)\n", cell.source)
        nbformat.write(nb, path)


def grade(assignment: str, submissions: Path, out: Path, timeout: int = 120) -> Path:
    """Collect, autograde, export; returns the path of the CSV. See the module docstring."""
    if not (ROOT / "solutions" / assignment).is_dir():
        known = ", ".join(sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
        raise ValueError(f"unknown assignment {assignment!r}; the course has: {known}.")
    if timeout < 1:
        raise ValueError(f"timeout must be at least 1 second per cell, got {timeout}.")
    submissions = Path(submissions).expanduser()
    if not (submissions.is_dir() or (submissions.is_file() and submissions.suffix == ".zip")):
        raise ValueError(f"SUBMISSIONS must be a folder or a .zip file, got {submissions}.")
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grading_") as scratch:
        scratch = Path(scratch)
        if submissions.is_file():
            submissions = _unpack(submissions, scratch / "unpacked")
        course = new_course(scratch / "course", [assignment])

        students, report = collect(submissions, assignment, course)
        collected = sorted(p.name for p in (course / "submitted").iterdir()) if (course / "submitted").exists() else []
        # One student at a time: a submission that crashes or stalls nbgrader cannot stop the others. A cell
        # that swallows the interrupt can make every later cell time out, so each student also gets a ceiling.
        ceiling = 20 * timeout + 300
        for student in collected:
            try:
                result = run_nbgrader(course, "autograde", assignment, "--force", "--student", student,
                                   f"--ExecutePreprocessor.timeout={timeout}", timeout=ceiling)
                failed = result.returncode != 0
                why = (result.stderr.strip().splitlines() or ["no message"])[-1][:300]
            except subprocess.TimeoutExpired:
                failed, why = True, f"grading took longer than {ceiling} s"
            if failed:
                report.append(f"{student}: nbgrader could not grade this notebook (scored 0): {why}")
        if (course / "autograded").exists():
            _strip_hidden_tests(course / "autograded")
        result = run_nbgrader(course, "generate_feedback", assignment, "--force")
        if result.returncode != 0:
            report.append("feedback: nbgrader generate_feedback failed: " + result.stderr.strip()[-300:])
        run_nbgrader(course, "export", "--to", str((out / "grades.csv").resolve()), check=True)
        _add_missing_students(out / "grades.csv", assignment, students)
        if (course / "feedback").exists():
            shutil.copytree(course / "feedback", out / "feedback", dirs_exist_ok=True)
        for student in collected:
            if not (out / "feedback" / student / assignment).is_dir():
                report.append(f"{student}: no feedback file was produced")
    (out / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    return out / "grades.csv"


def _add_missing_students(csv_path: Path, assignment: str, students: list[str]) -> None:
    """nbgrader exports only students it graded; list every student seen, 0 for the others."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0].keys()) if rows else ["assignment", "student_id", "score", "max_score"]
    max_score = next((r.get("max_score") for r in rows if r.get("max_score")), "")
    present = {(r.get("assignment"), r.get("student_id")) for r in rows}
    for student in students:
        if (assignment, student) not in present:
            row = dict.fromkeys(fields, "")
            row.update({"assignment": assignment, "student_id": student, "score": "0.0", "max_score": max_score})
            rows.append(row)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r.get("student_id", "")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="e.g. 02_normalised_positions")
    parser.add_argument("submissions", type=Path, help="folder (nbgrader or LMS layout) or LMS .zip")
    parser.add_argument("--out", type=Path, default=None, help="where grades.csv and feedback/ go "
                        "(default: grading/ASSIGNMENT)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    args = parser.parse_args(argv)
    out = args.out or Path("grading") / args.assignment
    try:
        csv_path = grade(args.assignment, args.submissions, out, args.timeout)
    except ValueError as error:
        parser.error(str(error))
    print((out / "report.txt").read_text(), end="")
    print(f"grades: {csv_path}\nfeedback: {out / 'feedback'}")


if __name__ == "__main__":
    main()
