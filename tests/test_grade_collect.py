"""How course_lib.grade finds each student's notebook in the layouts instructors download (fast, no grading)."""

from pathlib import Path

from course_lib.grade import collect, find_submissions

A = "02_normalised_positions"


def touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nbgrader_layout_canvas_files_and_moodle_folders(tmp_path):
    touch(tmp_path / "nb" / "alice" / A / f"{A}.ipynb")
    touch(tmp_path / "nb" / "bob" / A / "copy of homework.ipynb")
    touch(tmp_path / "nb" / "bob" / A / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    found = find_submissions(tmp_path / "nb", A)
    assert {s: [p.name for p in ps] for s, ps in found.items()} == {"alice": [f"{A}.ipynb"], "bob": ["copy of homework.ipynb"]}

    touch(tmp_path / "canvas" / f"smithjane_123_456_{A}.ipynb")
    touch(tmp_path / "canvas" / "doejohn_124_457_notes.txt")
    assert list(find_submissions(tmp_path / "canvas", A)) == ["smithjane"]

    touch(tmp_path / "moodle" / "Jane Smith_123_assignsubmission_file_" / "hw.ipynb")
    assert list(find_submissions(tmp_path / "moodle", A)) == ["Jane-Smith"]


def test_collect_copies_renames_and_reports_without_touching_the_originals(tmp_path):
    original = touch(tmp_path / "in" / "carol" / A / "mine.ipynb", "notebook bytes")
    touch(tmp_path / "in" / "dan" / A / "a.ipynb")
    touch(tmp_path / "in" / "dan" / A / "b.ipynb")
    (tmp_path / "in" / "erin" / A).mkdir(parents=True)
    report = collect(tmp_path / "in", A, tmp_path / "course")
    assert (tmp_path / "course" / "submitted" / "carol" / A / f"{A}.ipynb").read_text() == "notebook bytes"
    assert original.read_text() == "notebook bytes" and original.exists()
    assert any(line.startswith("carol: graded mine.ipynb") for line in report)
    assert any(line.startswith("dan: 2 notebooks") for line in report)
    assert "erin: no notebook found — not graded" in report
