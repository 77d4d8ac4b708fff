"""What must stay in sync: generated exercises, stripped notebooks, slide metadata, chapter
structure."""

from __future__ import annotations

import copy
import importlib.util
import json

import nbformat
import pytest
from nbgrader_course import ROOT, assignments, broken_links, make_course, nbgrader_meta

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = sorted(
    p
    for folder in ("notebooks", "solutions", "exercises")
    for p in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)


def cell_text(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_there_is_a_lecture_and_an_assignment_per_chapter():
    assert LECTURES, "no lecture notebooks found"
    assert [p.stem for p in LECTURES] == assignments()
    for name in assignments():
        assert (ROOT / "exercises" / name / f"{name}.ipynb").exists(), (
            f"run `make exercises` for {name}"
        )


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"cell {i} has outputs or an execution count: clear them before committing")


@pytest.fixture(scope="module")
def lab_metadata() -> dict:
    """The kernelspec and language_info JupyterLab writes with this environment's kernel."""
    return load_normaliser().kernel_metadata()


def load_normaliser():
    spec = importlib.util.spec_from_file_location(
        "normalise_notebooks", ROOT / "tools" / "normalise_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_as_jupyterlab_saves_them(path, lab_metadata):
    """Byte for byte what JupyterLab writes on save (metadata included), up to the Python patch
    version in language_info, which the next test checks: so an untouched notebook opens
    unmodified, and opening, saving and closing it leaves `git status` clean
    (tests/test_lab_browser.py does that in Chromium)."""
    text = path.read_text(encoding="utf-8")
    stored = json.loads(text)["metadata"].get("language_info", {}).get("version")
    metadata = copy.deepcopy(lab_metadata)
    metadata["language_info"]["version"] = stored or metadata["language_info"]["version"]
    assert load_normaliser().normalise(text, metadata) == text, (
        "not in the form JupyterLab saves: run `.venv/bin/python tools/normalise_notebooks.py "
        f"{path.relative_to(ROOT)}`")


def test_notebooks_store_the_python_version_the_kernel_reports(lab_metadata):
    """JupyterLab marks a notebook modified when the kernel's language_info differs from the stored
    one, the Python patch version included. The notebooks carry the course machines' version; on a
    machine with another one they open modified there (the README says what a student does)."""
    kernel = lab_metadata["language_info"]["version"]
    stored = {
        str(p.relative_to(ROOT)): json.loads(p.read_text())["metadata"]
        .get("language_info", {}).get("version")
        for p in ALL_NOTEBOOKS
    }
    other = {path: version for path, version in stored.items() if version != kernel}
    assert not other, (
        f"this kernel is Python {kernel}, these notebooks store another version, so JupyterLab "
        f"opens them modified here: {other}. On the course machines, store theirs: "
        "`.venv/bin/python tools/normalise_notebooks.py`")


@pytest.mark.slow
def test_exercises_are_regenerated_byte_for_byte(tmp_path):
    """exercises/ is nbgrader's output for solutions/, never edited by hand."""
    course = make_course(tmp_path)
    for name in assignments():
        generated = (course / "exercises" / name / f"{name}.ipynb").read_bytes()
        committed = (ROOT / "exercises" / name / f"{name}.ipynb").read_bytes()
        assert generated == committed, f"exercises/{name} is stale: run `make exercises`"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_has_slides_title_and_speaker_notes(path):
    nb = nbformat.read(path, as_version=4)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert all(kinds), "every cell needs slideshow metadata (slide_type)"
    first = nb.cells[0]
    assert (
        first.cell_type == "markdown" and kinds[0] == "slide" and first.source.startswith("# ")
    ), "the first cell is the title slide"
    assert kinds.count("slide") >= 4 and "notes" in kinds


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_slide_tags_are_ones_the_deck_build_knows(path):
    """`make slides` ignores a tag it does not know (slide-hidecode), and stops at a slide whose
    only cell goes to the notes; both show here in a second instead of after a build."""
    spec = importlib.util.spec_from_file_location("slides_build", ROOT / "slides" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    nb = nbformat.read(path, as_version=4)
    unknown = [
        f"cell {i}: {tag}"
        for i, cell in enumerate(nb.cells)
        for tag in cell.metadata.get("tags", [])
        if tag.startswith("slide") and tag not in build.SLIDE_TAGS
    ]
    assert not unknown, f"unknown slide tags (slides/README.md lists them): {unknown}"
    build.deck_cells(nb.cells)


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_has_every_required_part(path):
    nb = nbformat.read(path, as_version=4)
    text = cell_text(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "By the end of this chapter you can" in nb.cells[0].source, (
        "learning objectives at the top"
    )
    assert "from course_lib" in code or "import course_lib" in code
    assert "ipywidgets" in code, "at least one widget explorer"
    assert "plt." in code or "fig" in code, "at least one figure"
    assert "assert " in code, "measured claims are asserted"
    assert "misconceptions" in text.lower()
    assert "summary_table(" in code, "the growing summary table"
    assert "**Next:**" in text or "this is the last chapter" in text.lower()
    # Widgets are for notebook view: the cell that builds one is skipped in slides.
    for cell in nb.cells:
        if cell.cell_type == "code" and "widgets." in cell.source:
            assert cell.metadata["slideshow"]["slide_type"] == "skip", (
                "widget cells are skipped in slides"
            )


@pytest.mark.parametrize("name", assignments())
def test_assignment_structure(name):
    nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    solutions = [c for c in nb.cells if nbgrader_meta(c).get("solution")]
    assert len(graded) >= 3 and len(solutions) >= 3
    assert sum(nbgrader_meta(c)["points"] for c in graded) == 10
    for cell in graded:
        assert "### BEGIN HIDDEN TESTS" in cell.source, (
            f"{nbgrader_meta(cell)['grade_id']} has no hidden tests"
        )
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "check_" in visible, "visible tests use course_lib's readable checkers"
        assert "\nassert " not in "\n" + visible, "no bare asserts in visible tests"
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source


@pytest.mark.parametrize(
    "path", ALL_NOTEBOOKS + [ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_resolve(path):
    """A link a student clicks must open something (external links are not checked)."""
    assert not broken_links(path), f"broken links in {path.name}: {broken_links(path)}"
