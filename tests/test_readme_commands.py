"""The grading commands the README gives work as written, from the repository root, with nothing but
the system's PATH (the old `python -m course_lib.grade` failed without the venv's bin/ on PATH).
Only the path to the class and the output folder are replaced, so the test never touches an
instructor's grading/."""

from __future__ import annotations

import csv
import re
import shlex
import subprocess
import zipfile

import nbformat
import pytest
from nbgrader_course import ROOT, filled_in, submit

pytestmark = pytest.mark.slow


def readme_grade_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [
        line
        for line in lines
        if line.startswith(("make grade", ".venv/bin/python -m course_lib.grade"))
    ]


def test_the_readme_still_shows_both_ways_to_grade():
    commands = readme_grade_commands()
    assert any(c.startswith("make grade") for c in commands)
    assert any(c.startswith(".venv/bin/python -m course_lib.grade") for c in commands)


@pytest.mark.parametrize("command", readme_grade_commands())
def test_a_readme_grading_command_grades_a_class(command, tmp_path):
    assignment = re.search(r"\d\d_[a-z_]+", command).group(0)
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    submit(tmp_path, assignment, "alice", filled_in(release, source))
    submit(tmp_path, assignment, "bob", release)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for student in ("alice", "bob"):
            z.write(tmp_path / "submitted" / student / assignment / f"{assignment}.ipynb",
                    f"{student}_{len(student)}_1_{assignment}.ipynb")
    words = shlex.split(command.replace("$HOME/Downloads/submissions.zip", str(archive)))
    words = [
        str(tmp_path / "submitted")
        if w in ("path/to/submitted", "SUBMISSIONS=submitted") and not w.startswith("SUBMISSIONS=")
        else w
        for w in words
    ]
    words = [
        f"SUBMISSIONS={tmp_path / 'submitted'}" if w == "SUBMISSIONS=submitted" else w
        for w in words
    ]
    out = tmp_path / "out"
    words += [f"OUT={out}"] if words[0] == "make" else ["--out", str(out)]
    result = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(out / "grades.csv", newline="") as f:
        scores = sorted(float(row["score"]) for row in csv.DictReader(f))
    assert scores == [0.0, 10.0]
