"""The student bundle (`make release`) has what students need and nothing that is only for
instructors.

Builds the release with tools/release.py into a temporary folder, unzips it fresh into another, and
checks it from outside the repository: no solutions, hidden tests, calibration corpora or grading
tools, and no line of an instructor solution in any file (the same rule as the script, checked again
here, with solutions/ read from the repository). Then it works inside the bundle alone, with the
bundle's own course_lib first on PYTHONPATH: the released exercises, answered with the instructor's
solutions, print every visible test's ✓; left blank, their test cells fail with NotImplementedError
(not an import error); and the bundle's `make lab` uses the student JupyterLab settings.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader_course import ROOT, assignments, broken_links, filled_in, nbgrader_meta

pytestmark = pytest.mark.slow
NAME = "positional-encodings-course"
RELEASE = ROOT / "tools" / "release.py"
ALLOWLIST = ROOT / "tools" / "release_allowlist.txt"
INSTRUCTOR_ONLY = ("solutions", "tests/calibration", "course_lib/grading", "course_lib/grade.py")
MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")
TOP_LEVEL = {
    "README.md",
    "Makefile",
    "notebooks",
    "exercises",
    "course_lib",
    "pyproject.toml",
    "environment.yml",
    ".jupyter-overrides.json",
    ".jupyter-student",
    ".gitignore",
}


def build(out: Path, cwd: Path = ROOT, script: Path = RELEASE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), "--out", str(out)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """The folder tools/release.py wrote (the zip and the unpacked tree)."""
    out = tmp_path_factory.mktemp("release")
    result = build(out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def bundle(release, tmp_path_factory) -> Path:
    """The zip, unpacked fresh: what a student sees."""
    target = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(release / f"{NAME}.zip") as archive:
        archive.extractall(target)
    assert sorted(p.name for p in target.iterdir()) == [NAME], "the zip unpacks into one folder"
    return target / NAME


def bundle_files(bundle: Path) -> list[Path]:
    return sorted(p for p in bundle.rglob("*") if p.is_file())


def committed_solution(name: str):
    """The instructor's notebook as committed: the bundle is built from the last commit."""
    text = subprocess.run(["git", "show", f"HEAD:solutions/{name}/{name}.ipynb"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return nbformat.reads(text, as_version=4)


# --- what is in the bundle ------------------------------------------------------------------------

def test_the_bundle_has_the_student_files_and_no_instructor_files(bundle):
    assert {p.name for p in bundle.iterdir()} == TOP_LEVEL
    relative = [p.relative_to(bundle).as_posix() for p in bundle_files(bundle)]
    for path in relative:
        assert not any(path == x or path.startswith(x + "/") for x in INSTRUCTOR_ONLY), path
        assert "__pycache__" not in path and ".ipynb_checkpoints" not in path, path
    assert not (bundle / "solutions").exists() and not (bundle / "tests").exists()
    assert (
        not (bundle / "course_lib" / "grading").exists()
        and not (bundle / "course_lib" / "grade.py").exists()
    )
    assert sorted(p.name for p in (bundle / ".jupyter-student").rglob("*") if p.is_file()) == \
        ["jupyter_server_config.json", "nbgrader_config.json", "page_config.json"]
    for name in assignments():
        assert (bundle / "notebooks" / f"{name}.ipynb").is_file()
        assert (bundle / "exercises" / name / f"{name}.ipynb").is_file()


def test_the_bundle_has_the_committed_files_unchanged(bundle):
    """Copied from the last commit, byte for byte; only README.md and Makefile are written for
    students."""
    for path in bundle_files(bundle):
        relative = path.relative_to(bundle).as_posix()
        if relative in ("README.md", "Makefile"):
            continue
        committed = subprocess.run(
            ["git", "show", f"HEAD:{relative}"], cwd=ROOT, capture_output=True, check=True
        )
        assert path.read_bytes() == committed.stdout, relative


def test_no_solution_line_or_hidden_test_marker_is_in_any_file(bundle):
    lines = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            region = re.findall(
                r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, flags=re.S
            )
            for line in "\n".join(region).splitlines():
                if len(line.strip()) >= 20:
                    lines[line.strip()] = path.parent.name
    assert len(lines) > 20, "found too few solution lines: is the rule still reading the solutions?"
    allowed = set()
    for raw in ALLOWLIST.read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            path, line = raw.split(" | ", 1)
            assert not path.startswith("exercises/"), (
                "a solution line is never allowed in an exercise"
            )
            allowed.add((path, line.strip()))

    found = []
    for path in bundle_files(bundle):
        relative = path.relative_to(bundle).as_posix()
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":      # as a reader sees it: JSON escapes (\" and \n) undone
            text += "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        found += [(relative, marker) for marker in MARKERS if marker in text]
        found += [
            (relative, line) for line in lines if line in text and (relative, line) not in allowed
        ]
    assert not found, found


def test_the_zip_is_byte_for_byte_the_same_when_built_again(release, tmp_path):
    again = build(tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / f"{NAME}.zip").read_bytes() == (release / f"{NAME}.zip").read_bytes()
    with zipfile.ZipFile(release / f"{NAME}.zip") as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_unpacked_tree_next_to_the_zip_is_the_zip(release, bundle):
    tree = release / NAME
    assert [p.relative_to(tree) for p in bundle_files(tree)] == [
        p.relative_to(bundle) for p in bundle_files(bundle)
    ]
    for path in bundle_files(tree):
        assert path.read_bytes() == (bundle / path.relative_to(tree)).read_bytes()


def test_the_student_readme_keeps_the_student_sections_and_drops_the_instructor_guide(bundle):
    readme = (bundle / "README.md").read_text()
    main = (ROOT / "README.md").read_text()
    assert readme.startswith(main.split("\n## ")[0]), "title and intro as in the main README"
    headings = re.findall(r"(?m)^## (.*)$", readme)
    assert headings == ["Get started", "Course map", "For students", "What is in this folder"]
    assert "make lab" in readme
    for instructor_only in (
        "For instructors",
        "make grade",
        "make exercises",
        "solutions/",
        "calibration",
        "Adding a chapter",
        "lab-instructor",
    ):
        assert instructor_only not in readme, instructor_only


def test_every_relative_link_in_the_bundle_opens_something_in_the_bundle(bundle):
    for path in [bundle / "README.md", *sorted(bundle.rglob("*.ipynb"))]:
        assert not broken_links(path), f"broken links in {path.name}: {broken_links(path)}"


# --- the bundle on its own ------------------------------------------------------------------------

def bundle_env(bundle: Path) -> dict[str, str]:
    """The bundle's course_lib first on the path. The venv's editable install of the repository
    stays behind it as a fallback for modules the bundle lacks, so every check below also asserts
    that each course_lib module that was loaded came from the bundle."""
    return dict(os.environ, PYTHONPATH=str(bundle))


def test_course_lib_imports_from_the_bundle_without_the_grading_tools(bundle, tmp_path):
    script = tmp_path / "student.py"
    script.write_text(
        "import importlib.util, json, sys\n"
        "# As on a student's machine: no editable install of the repository behind the bundle.\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, "
        "'__module__', '')]\nimport course_lib\n"
        "from course_lib import check_does_not_use, CheckFailed\ndef by_hand(x):\n"
        "    return x @ x.T  # apply_rope in a comment is fine\ndef lazy(x):\n"
        "    return course_lib.apply_rope(x)\n"
        "check_does_not_use(by_hand, ('apply_rope',), what='by_hand')\ntry:\n"
        "    check_does_not_use(lazy, ('apply_rope',), what='lazy')\n    caught = False\n"
        "except CheckFailed:\n    caught = True\n"
        "loaded = [m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'course_lib']\n"
        "print(json.dumps({'file': course_lib.__file__, 'caught': caught, 'loaded': loaded,\n"
        "                  'grade': importlib.util.find_spec('course_lib.grade') is not None,\n"
        "                  'grading': importlib.util.find_spec('course_lib.grading') is not "
        "None}))\n"
    )
    result = subprocess.run([sys.executable, str(script)], cwd=bundle, env=bundle_env(bundle),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    for file in [seen["file"], *seen["loaded"]]:
        assert Path(file).resolve().is_relative_to(bundle.resolve()), file
    assert len(seen["loaded"]) > 10, "import course_lib loads its submodules"
    assert seen["caught"], "check_does_not_use must still catch a call to the library helper"
    assert not seen["grade"] and not seen["grading"]


WHERE_AM_I = """\
import sys, course_lib
print('KERNEL', sys.executable)
for _name, _module in sorted(sys.modules.items()):
    if _name.split('.')[0] == 'course_lib':
        print('COURSE_LIB', _module.__file__)
"""


def run_in_bundle(nb, bundle: Path, allow_errors: bool):
    """Execute ``nb`` as a student would in the bundle: cwd = the bundle, the venv's Python as
    kernel."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(nbformat.v4.new_code_cell(WHERE_AM_I))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(bundle)}})
    client.execute(env=bundle_env(bundle))
    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    kernel = re.search(r"KERNEL (.*)", where)[1]
    assert Path(kernel).resolve() == Path(sys.executable).resolve(), kernel
    loaded = re.findall(r"COURSE_LIB (.*)", where)
    assert loaded, where
    for file in loaded:
        assert Path(file).resolve().is_relative_to(bundle.resolve()), (
            f"course_lib module loaded from {file}"
        )
    return nb


def checkmarks(source: str) -> list[str]:
    """The ✓ lines a test cell prints (literals split over lines are joined, as Python does)."""
    return [node.args[0].value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
            and node.args and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).startswith("✓")]


def graded_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]


@pytest.mark.parametrize("name", assignments())
def test_released_exercise_answered_with_the_solutions_passes_every_visible_test(name, bundle):
    released = nbformat.read(bundle / "exercises" / name / f"{name}.ipynb", as_version=4)
    nb = run_in_bundle(filled_in(released, committed_solution(name)), bundle, allow_errors=False)
    cells = graded_cells(nb)
    assert len(cells) >= 3
    for cell in cells:
        expected = checkmarks(cell.source)
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert expected and all(line in printed for line in expected), \
            f"{nbgrader_meta(cell)['grade_id']}: expected {expected}, printed {printed!r}"


@pytest.mark.parametrize("name", assignments())
def test_blank_released_exercise_fails_its_tests_with_not_implemented_error(name, bundle):
    released = nbformat.read(bundle / "exercises" / name / f"{name}.ipynb", as_version=4)
    nb = run_in_bundle(released, bundle, allow_errors=True)
    setup_errors = [o for c in nb.cells if not nbgrader_meta(c).get("grade")
                    for o in c.get("outputs", []) if o.output_type == "error"
                    # an answer cell at top level (a dict of predictions) raises until answered
                    and not (nbgrader_meta(c).get("solution") and o.ename == "NotImplementedError")]
    assert not setup_errors, [(o.ename, o.evalue) for o in setup_errors]   # every import works
    for cell in graded_cells(nb):
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        # a function left blank raises NotImplementedError; a dict of predictions left as None
        # fails its form check
        assert errors in (["NotImplementedError"], ["CheckFailed"]), \
            f"{nbgrader_meta(cell)['grade_id']}: {errors}"
        assert "✓" not in "".join(o.get("text", "") for o in cell.outputs)


def _make(bundle, *args):
    """``make`` in the bundle as a student runs it: not nested in this test run's own ``make
    test``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    return subprocess.run(
        ["make", *args], cwd=bundle, capture_output=True, text=True, timeout=60, env=env
    )


def test_make_lab_in_the_bundle_uses_the_student_jupyter_settings(bundle):
    lab = _make(bundle, "-n", "lab")
    assert lab.returncode == 0, lab.stderr
    assert f"JUPYTER_CONFIG_DIR={bundle}/.jupyter-student" in lab.stdout, lab.stdout
    test = _make(bundle, "-n", "test")
    assert (
        test.returncode == 0
        and "--nbval-lax" in test.stdout
        and test.stdout.rstrip().endswith("notebooks")
    )
    targets = _make(bundle, "help").stdout
    assert re.findall(r"make (\w+)", targets) == ["lab", "test", "clean"]


# --- the gate -------------------------------------------------------------------------------------

@pytest.fixture
def clone(tmp_path) -> Path:
    """A throw-away clone of the last commit, with this work tree's tools/, to commit leaks into."""
    target = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True
    )
    shutil.copytree(ROOT / "tools", target / "tools", dirs_exist_ok=True)
    return target


def commit_all(repo: Path) -> None:
    subprocess.run(["git", "add", "-A", "."], cwd=repo, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "--quiet",
            "-m",
            "leak",
        ],
        cwd=repo,
        check=True,
    )


def solution_line_with_quotes() -> str:
    """A long solution line with quotes in it: stored JSON-escaped in a notebook."""
    for name in assignments():
        for cell in committed_solution(name).cells:
            for line in cell.source.splitlines():
                if '"' in line and len(line.strip()) >= 20 and nbgrader_meta(cell).get("solution") \
                        and "###" not in line:
                    return line.strip()
    pytest.skip("no solution line with quotes")


@pytest.mark.parametrize("leak", ["solution line in course_lib", "solution line in a lecture",
                                  "hidden tests in an exercise"])
def test_the_release_refuses_a_commit_that_would_leak(leak, clone, tmp_path):
    name = assignments()[0]
    if leak == "solution line in course_lib":
        leaked = "course_lib/answers.py: contains a line of the solution"
        (clone / "course_lib" / "answers.py").write_text(
            f"def f():\n    {solution_line_with_quotes()}\n"
        )
    # stored JSON-escaped: the gate must read the cells
    elif leak == "solution line in a lecture":
        leaked = f"notebooks/{name}.ipynb: contains a line of the solution"
        path = clone / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(solution_line_with_quotes()))
        nbformat.write(nb, path)
    else:
        leaked = f"exercises/{name}/{name}.ipynb: contains '### BEGIN HIDDEN TESTS'"
        path = clone / "exercises" / name / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[-1].source += "\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"
        nbformat.write(nb, path)
    commit_all(clone)
    result = build(tmp_path / "dist", cwd=clone, script=clone / "tools" / "release.py")
    assert result.returncode != 0
    assert "give away instructor material" in result.stderr and leaked in result.stderr, (
        result.stderr
    )
    assert (
        not (tmp_path / "dist" / f"{NAME}.zip").exists() and not (tmp_path / "dist" / NAME).exists()
    )


def test_the_gate_refuses_instructor_only_paths():
    """Whatever INCLUDE says, these never pass the final check (generated files included)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("release", RELEASE)
    release = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release)
    for path in (
        "tests/calibration/00_order_blindness.py",
        "solutions/00_order_blindness/00_order_blindness.ipynb",
        "course_lib/grading/harness.py",
        "course_lib/grade.py",
    ):
        assert release.leaks({path: b"# nothing secret in the text\n"}, {}, set()) == \
            [f"{path}: instructor-only file"], path
    assert release.leaks({"course_lib/ok.py": b"x = 1\n"}, {}, set()) == []


def test_the_release_ships_the_commit_not_uncommitted_edits_or_untracked_files(clone, tmp_path):
    (clone / "course_lib" / "grading").mkdir(exist_ok=True)
    (clone / "course_lib" / "grading" / "__init__.py").write_text("# instructor tools\n")
    (clone / "course_lib" / "scratch.py").write_text("# untracked\n")
    with (clone / "course_lib" / "checkers.py").open("a") as f:
        f.write("\n# uncommitted edit\n")
    result = build(tmp_path / "dist", cwd=clone, script=clone / "tools" / "release.py")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "dist" / f"{NAME}.zip") as archive:
        names = archive.namelist()
        assert f"{NAME}/course_lib/scratch.py" not in names
        assert not [n for n in names if "/grading/" in n]
        assert b"uncommitted edit" not in archive.read(f"{NAME}/course_lib/checkers.py")
    assert "uncommitted changes are NOT in the bundle: course_lib/checkers.py" in result.stderr
