"""A student who works in the course's git repository takes a course update with the README's
commands, as written, and keeps their work.

The course and the student's clone are temporary repositories holding the working tree's lectures
and exercises; the real checkout is never touched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from conftest import ROOT

SECTION = "**Keeping your work when the course is updated**"
IDENTITY = {
    "GIT_AUTHOR_NAME": "A Student", "GIT_AUTHOR_EMAIL": "student@example.org",
    "GIT_COMMITTER_NAME": "A Student", "GIT_COMMITTER_EMAIL": "student@example.org",
}


def readme_update_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, "the README no longer tells students how to take an update"
    block = re.search(r"```bash\n(.*?)```", text[text.index(SECTION):], re.S)[1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def git(repo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env=dict(os.environ, **IDENTITY)).stdout


def edit_notebook(path, change) -> None:
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def test_the_readme_update_commands_keep_the_students_work(tmp_path):
    course, student = tmp_path / "course", tmp_path / "student"
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, course / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    git(tmp_path, "init", "-q", str(course))
    git(course, "add", "-A")
    git(course, "commit", "-q", "-m", "the course")
    git(tmp_path, "clone", "-q", str(course), str(student))

    # The student answers exercise 00, and runs and saves lecture 01 on another Python.
    exercise = student / "exercises" / "00_order_blindness" / "00_order_blindness.ipynb"
    answer = "# my answer\nweights = torch.softmax(scores, dim=-1)\n"

    def answer_it(nb):
        cell = next(c for c in nb["cells"] if "raise NotImplementedError()" in "".join(c["source"]))
        cell["source"] = answer.splitlines(keepends=True)

    def run_it(nb):
        nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.1"}
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["execution_count"] = 1
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]

    edit_notebook(exercise, answer_it)
    edit_notebook(student / "notebooks" / "01_integer_dimension.ipynb", run_it)

    # Meanwhile the course fixes lecture 01 and adds a file.
    def fix_it(nb):
        nb["cells"].append({"cell_type": "markdown", "id": "update-1", "metadata": {},
                            "source": ["A correction."]})

    edit_notebook(course / "notebooks" / "01_integer_dimension.ipynb", fix_it)
    (course / "notebooks" / "errata.md").write_text("errata\n")
    git(course, "add", "-A")
    git(course, "commit", "-q", "-m", "an update")

    for command in readme_update_commands():
        result = subprocess.run(command, shell=True, cwd=student, capture_output=True, text=True,
                                env=dict(os.environ, **IDENTITY))
        assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}{result.stderr}"

    assert answer in "".join(
        "".join(c["source"]) for c in json.loads(exercise.read_text())["cells"]), (
        "the student's answer is gone")
    lecture = json.loads((student / "notebooks" / "01_integer_dimension.ipynb").read_text())
    assert lecture["cells"][-1]["source"] == ["A correction."], "the update did not arrive"
    assert (student / "notebooks" / "errata.md").exists()
    assert git(student, "status", "--porcelain") == ""
