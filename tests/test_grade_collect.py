"""How course_lib.grade finds each student's notebook in the layouts instructors download (fast, no
grading)."""

from pathlib import Path

from course_lib.grade import collect, find_submissions

A = "02_normalised_positions"


def touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(found):
    return {student: [p.name for p in paths] for student, paths in found.items()}


def test_nbgrader_layout_canvas_files_and_moodle_folders(tmp_path):
    touch(tmp_path / "nb" / "alice" / A / f"{A}.ipynb")
    touch(tmp_path / "nb" / "bob" / A / "copy of homework.ipynb")
    touch(tmp_path / "nb" / "bob" / A / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    notebooks, _ = find_submissions(tmp_path / "nb", A)
    assert names(notebooks) == {"alice": [f"{A}.ipynb"], "bob": ["copy of homework.ipynb"]}

    touch(tmp_path / "canvas" / f"smithjane_123_456_{A}.ipynb")
    touch(tmp_path / "canvas" / "smithjane_123_457_notes.txt")
    touch(tmp_path / "canvas" / "doejohn_124_458_essay.pdf")
    notebooks, others = find_submissions(tmp_path / "canvas", A)
    assert names(notebooks) == {
        "smithjane-123": [f"smithjane_123_456_{A}.ipynb"],
        "doejohn-124": [],
    }
    assert others == {
        "smithjane-123": ["smithjane_123_457_notes.txt"],
        "doejohn-124": ["doejohn_124_458_essay.pdf"],
    }

    touch(tmp_path / "moodle" / "Jane Smith_123_assignsubmission_file_" / "hw.ipynb")
    touch(tmp_path / "moodle" / "李雷_11_assignsubmission_file_" / "hw.ipynb")
    touch(tmp_path / "moodle" / "王芳_12_assignsubmission_file_" / "hw.ipynb")
    assert sorted(find_submissions(tmp_path / "moodle", A)[0]) == [
        "Jane-Smith-123",
        "李雷-11",
        "王芳-12",
    ]


def test_students_whose_ids_would_collide_are_kept_apart(tmp_path):
    touch(tmp_path / "canvas" / "smithjohn_101_1_hw.ipynb")
    touch(tmp_path / "canvas" / "smithjohn_102_2_hw.ipynb")
    assert sorted(find_submissions(tmp_path / "canvas", A)[0]) == ["smithjohn-101", "smithjohn-102"]
    touch(tmp_path / "nb" / "Zoë Li" / "hw.ipynb")
    touch(tmp_path / "nb" / "Zoë+Li" / "hw.ipynb")
    assert sorted(find_submissions(tmp_path / "nb", A)[0]) == ["Zoë-Li", "Zoë-Li-2"]


def test_collect_copies_renames_and_reports_without_touching_the_originals(tmp_path):
    original = touch(tmp_path / "in" / "carol" / A / "mine.ipynb", "notebook bytes")
    touch(tmp_path / "in" / "dan" / A / "a.ipynb")
    touch(tmp_path / "in" / "dan" / A / "b.ipynb")
    touch(tmp_path / "in" / "erin" / A / "answers.pdf")
    students, report = collect(tmp_path / "in", A, tmp_path / "course")
    assert students == ["carol", "dan", "erin"], "every student seen gets a row, graded or not"
    assert (
        tmp_path / "course" / "submitted" / "carol" / A / f"{A}.ipynb"
    ).read_text() == "notebook bytes"
    assert original.read_text() == "notebook bytes" and original.exists()
    assert any(line.startswith("carol: graded mine.ipynb") for line in report)
    assert any(line.startswith("dan: 2 notebooks") for line in report)
    assert "erin: no notebook found — not graded, scored 0 (handed in: answers.pdf)" in report


def test_a_file_name_cannot_write_lines_into_the_report(tmp_path):
    forged = "alice_1_1_hw.ipynb\nbob-2: 0 ∕ 10 (1.3 s)\nalice-1: 10 ∕ 10 (1.2 s)"
    touch(tmp_path / "in" / forged)
    _, report = collect(tmp_path / "in", A, tmp_path / "course")
    assert len("\n".join(report).splitlines()) == len(report) == 1, report
