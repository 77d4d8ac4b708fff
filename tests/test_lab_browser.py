"""The student's first hour, in a real browser: `make lab` opened in headless Chromium.

A copy of the course (the working tree's files, committed into a fresh git repository, so the
real checkout is never touched) is served by the real `make lab` and `make lab-instructor`, with
the course's virtual environment. Playwright for Python drives Debian's Chromium
(`executable_path`; Playwright's own browser download is not used). The test follows a student:

- the URL the server prints shows the README rendered (not the Launcher), with no news pop-up;
- an untouched lecture notebook opens unmodified; saving and closing it leaves `git status` clean
  and asks nothing;
- chapter 00 runs every cell with no error output; its widget renders as controls, and changing
  one redraws its figure;
- the blank exercise opens unmodified, Validate shows its result, and `git status` stays clean;
- the Assignments list is not offered and no error text or dialog appears;
- formgrader is absent for the student and present for the instructor;
- the server log holds no warning, error or 404 the course's configuration causes.

A failing step leaves a screenshot and the server log in the folder its message names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import CHROMIUM_ARGS, system_chromium
from conftest import ROOT

pytestmark = pytest.mark.slow

SHOTS = Path(tempfile.gettempdir()) / "course-lab-browser"
LECTURE = "notebooks/00_order_blindness.ipynb"
EXERCISE = "exercises/00_order_blindness/00_order_blindness.ipynb"
START_TIMEOUT = 180  # s: `make lab` to the printed URL, on 2 busy cores
STEP = 120_000  # ms: a page, a kernel start, a dialog
RUN_ALL = 900_000  # ms: chapter 00 top to bottom while other tests use the same 2 cores
PAGE_ERRORS: list[str] = []  # uncaught JavaScript errors of the current page
# Warnings the server logs whatever the course configures (upstream; the README lists them).
UPSTREAM_WARNINGS = (
    # jupyter_server passes its ping interval in ms where tornado 6.5 expects s, then tornado
    # clamps the timeout and says so, once per server (jupyter_server 2.21.1, tornado 6.5).
    "The websocket_ping_timeout",
    "Setting websocket_ping_timeout",
)


# --- the course, served ---------------------------------------------------------------------------

def copy_of_the_course(dest: Path) -> Path:
    """The working tree's files (tracked and new, not ignored), committed into a fresh repository.
    Modification times are kept, so make sees the course's set-up as done."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git = ["git", "-c", "user.name=course-test", "-c", "user.email=course-test@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the course"], cwd=dest, check=True)
    return dest


def git_status(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout


def git_diff(repo: Path) -> str:
    return subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True).stdout[:3000]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """`make TARGET` running on a free port: its printed URL and everything it logged."""

    def __init__(self, repo: Path, target: str, scratch: Path):
        self.repo, self.target = repo, target
        self.port = free_port()
        venv = Path(sys.prefix)
        # Short paths: kernels talk over Unix sockets in the runtime directory (107-byte limit).
        runtime = Path(tempfile.mkdtemp(prefix="lab-"))
        self._cleanup = [runtime]
        (scratch / "data").mkdir(exist_ok=True)
        (scratch / "config").mkdir(exist_ok=True)
        env = dict(
            # as a student runs it: not nested in this test run's own `make test`
            {k: v for k, v in os.environ.items()
             if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")},
            JUPYTER_RUNTIME_DIR=str(runtime),
            # the notebook signature store and anything else per user: not the tester's own
            JUPYTER_DATA_DIR=str(scratch / "data"),
            # the instructor lab reads the user's config directory: an empty one here
            JUPYTER_CONFIG_DIR=str(scratch / "config"),
        )
        args = f"--no-browser --ip=127.0.0.1 --port={self.port} --ServerApp.port_retries=0"
        # The course's own environment, never reinstalled from the copy (`-o`: its stamp is old).
        command = ["make", "--no-print-directory", "-o", f"{venv}/.course", target,
                   f"VENV={venv}", f"LAB_ARGS={args}"]
        self.lines: list[str] = []
        self.url: str | None = None
        self._printed = threading.Event()
        self.process = subprocess.Popen(
            command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._printed.wait(START_TIMEOUT) or self.url is None:
            self.stop()
            pytest.fail(f"`make {target}` printed no URL in {START_TIMEOUT} s:\n{self.log()}")
        self.token = re.search(r"token=(\w+)", self.url)[1]
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.api("/api/status")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"`make {target}` printed its URL but does not answer:\n"
                                f"{self.log()}")
                time.sleep(0.5)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            found = re.search(rf"(http://127\.0\.0\.1:{self.port}/\S*token=\w+)", line)
            if found and self.url is None:
                self.url = found[1]
                self._printed.set()
        self._printed.set()

    def log(self) -> str:
        return "\n".join(self.lines)

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.base}{path}?token={self.token}", timeout=30) as r:
            return json.loads(r.read())

    def complaints(self) -> list[str]:
        """Log lines at warning level or above, 404s and tracebacks, upstream ones left out."""
        bad = re.compile(r"^\[(W|E|C) |WARNING|CRITICAL|ERROR|Traceback| 404 ")
        # jupyter_server prints its URL banner at the critical level, so that it always shows.
        banner = re.compile(r"^\[C [^\]]*ServerApp\]\s*$")
        return [
            line for line in self.lines
            if bad.search(line) and not banner.match(line)
            and not any(u in line for u in UPSTREAM_WARNINGS)
        ]

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return copy_of_the_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def student_lab(course, tmp_path_factory):
    lab = Lab(course, "lab", tmp_path_factory.mktemp("student"))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def instructor_lab(course, tmp_path_factory):
    lab = Lab(course, "lab-instructor", tmp_path_factory.mktemp("instructor"))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = system_chromium("The browser test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser tab (1366 x 768, a student's laptop). If the test fails, a screenshot and
    the server log are saved in SHOTS and the failure message names them."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(STEP)
    PAGE_ERRORS.clear()
    page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
    yield page
    context.close()


def on_failure(page, lab: Lab, name: str):
    """Context manager: on an exception, save the page and the log, and say where."""

    class _Evidence:
        def __enter__(self):
            return self

        def __exit__(self, kind, error, tb):
            if error is None or not isinstance(error, Exception):
                return False
            SHOTS.mkdir(parents=True, exist_ok=True)
            shot, log = SHOTS / f"{name}.png", SHOTS / f"{name}.log"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except Exception as shot_error:  # the page may be gone; the log still helps
                shot = f"(no screenshot: {shot_error})"
            log.write_text(lab.log())
            raise AssertionError(f"{error}\n  screenshot: {shot}\n  server log: {log}") from error

    return _Evidence()


# --- what a student does --------------------------------------------------------------------------

def open_document(page, lab: Lab, path: str):
    """Open `path` by its URL and return the tab of the document once it is shown."""
    page.goto(f"{lab.base}/lab/tree/{path}?token={lab.token}")
    tab = page.locator(f"li.lm-TabBar-tab[data-type='document-title'][title*='Path: {path}']")
    tab.first.wait_for()
    return tab.first


def wait_for_idle_kernel(page):
    """The notebook's kernel has started and answered (the status bar says so)."""
    page.locator("#jp-main-statusbar").get_by_text(
        re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for()


def is_dirty(tab) -> bool:
    return "jp-mod-dirty" in (tab.get_attribute("class") or "")


def save(page, lab: Lab, path: str) -> None:
    """Ctrl+S, and wait until the server has finished writing the file.

    The server's atomic save copies the file to `.~name`, rewrites the file in place, then deletes
    the copy: the file's time changes when the rewrite *starts*, so only a changed time with the
    copy gone means the write is complete (reading earlier saw a half-written file)."""
    file = lab.repo / path
    intermediate = file.with_name(".~" + file.name)
    before = file.stat().st_mtime_ns
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(
        position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + STEP / 1000
    while file.stat().st_mtime_ns == before or intermediate.exists():
        assert time.monotonic() < deadline, f"{path} was not saved"
        time.sleep(0.1)


def close_without_questions(page, tab) -> None:
    """Close the document's tab; an untouched document closes without a dialog."""
    path = tab_title(tab)
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    page.wait_for_function(
        "([path]) => !document.querySelector(`li.lm-TabBar-tab[title*='Path: ${path}']`)"
        " || document.querySelector('.jp-Dialog')",
        arg=[path],
    )
    dialog = page.locator(".jp-Dialog")
    assert dialog.count() == 0, f"closing asked: {dialog.first.inner_text()!r}"


def readme_heading(page):
    """The title of the README, rendered, in the tab on show (not a notebook's heading)."""
    return page.locator("#jp-main-dock-panel .jp-MarkdownViewer h1").filter(visible=True).first


def tab_title(tab) -> str:
    return re.search(r"Path: (\S+)", tab.get_attribute("title"))[1]


def menu_items(page, menu: str) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    items = page.locator(".lm-Menu:visible .lm-Menu-itemLabel")
    items.first.wait_for()
    labels = [text.strip() for text in items.all_inner_texts()]
    page.keyboard.press("Escape")
    return labels


ERROR_TEXTS = ("Error fetching courses", "exchange directory does not exist",
               "Unwritable directory", "official Jupyter news")


def no_error_text(page) -> None:
    """No error text or pop-up in JupyterLab's own interface: toasts, dialogs, panels (the
    documents themselves, which may quote such messages, are left out)."""
    text = page.evaluate(
        """() => { const body = document.body.cloneNode(true);
                   body.querySelectorAll('.jp-RenderedMarkdown, .jp-Notebook, .jp-FileEditor')
                       .forEach(e => e.remove());
                   return body.textContent; }""")
    found = [e for e in ERROR_TEXTS if e in text]
    assert not found, f"the page shows {found}"
    assert not page.locator(".jp-Dialog").count(), (
        f"a dialog is open: {page.locator('.jp-Dialog').first.inner_text()!r}")


# --- the tests ------------------------------------------------------------------------------------

def test_the_printed_url_shows_the_readme_rendered(student_lab, page):
    with on_failure(page, student_lab, "printed-url"):
        assert "/lab/tree/README.md" in student_lab.url, student_lab.url
        page.goto(student_lab.url)
        heading = readme_heading(page)
        heading.wait_for()
        assert "Where am I?" in heading.inner_text()
        assert not page.locator("#jp-main-dock-panel .jp-Launcher:visible").count(), (
            "the Launcher is showing")


def test_no_news_pop_up_in_either_lab(student_lab, instructor_lab):
    """The course's settings (installed as JupyterLab's overrides) answer "Never" for the lab;
    the pages themselves are checked for the pop-up in the tests below."""
    for lab in (student_lab, instructor_lab):
        settings = lab.api("/lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false", lab.target


def test_an_untouched_lecture_opens_saves_and_closes_clean(student_lab, page):
    with on_failure(page, student_lab, "lecture-save"):
        tab = open_document(page, student_lab, LECTURE)
        wait_for_idle_kernel(page)
        assert not is_dirty(tab), "the untouched lecture opened modified (●)"
        save(page, student_lab, LECTURE)
        assert git_status(student_lab.repo) == "", (
            f"saving an untouched lecture changed it:\n{git_diff(student_lab.repo)}")
        close_without_questions(page, tab)


def test_chapter_00_runs_every_cell_without_errors_and_its_widget_redraws(student_lab, page):
    try:
        run_chapter_00(student_lab, page)
    finally:  # the saved outputs go, as a student's `git restore notebooks/` does
        subprocess.run(["git", "checkout", "--", LECTURE], cwd=student_lab.repo, check=True)


def run_chapter_00(student_lab, page):
    with on_failure(page, student_lab, "chapter-00"):
        tab = open_document(page, student_lab, LECTURE)
        wait_for_idle_kernel(page)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        page.wait_for_function(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                    .map(p => p.textContent.trim());
                const status = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                const busy = prompts.some(p => p.includes('*'));
                return prompts.length && /\\d/.test(prompts[0]) && !busy
                    && status && status.dataset.status === 'idle';
            }""",
            timeout=RUN_ALL,
        )
        save(page, student_lab, LECTURE)
        nb = json.loads((student_lab.repo / LECTURE).read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        errors = [
            f"cell {nb['cells'].index(c)}: {o.get('ename')}: {o.get('evalue')}"
            for c in code for o in c["outputs"] if o["output_type"] == "error"
        ]
        assert not errors, f"error output: {errors}"
        assert all(c["execution_count"] for c in code), "not every cell ran"

        # The explorer: a dropdown and a checkbox above a figure; a new choice redraws it.
        explorer = page.locator(".widget-interact").first
        explorer.scroll_into_view_if_needed()
        dropdown = explorer.locator("select").first
        checkbox = explorer.locator("input[type='checkbox']").first
        dropdown.wait_for()
        checkbox.wait_for()
        figure = explorer.locator("img").first
        figure.wait_for()
        for change in (lambda: dropdown.select_option("deer kills lion"),
                       lambda: checkbox.check()):
            before = figure.get_attribute("src")
            change()
            page.wait_for_function(
                "([el, before]) => el.isConnected && el.src && el.src !== before"
                " || (el = document.querySelector('.widget-interact img')) && el.src !== before",
                arg=[figure.element_handle(), before],
            )
            figure = explorer.locator("img").first
        assert not PAGE_ERRORS, f"JavaScript errors: {PAGE_ERRORS}"
        no_error_text(page)
        assert tab.is_visible()


def test_the_blank_exercise_validates_and_stays_clean(student_lab, page):
    with on_failure(page, student_lab, "exercise-validate"):
        tab = open_document(page, student_lab, EXERCISE)
        wait_for_idle_kernel(page)
        assert not is_dirty(tab), "the untouched exercise opened modified (●)"
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar").get_by_text(
            "Validate", exact=True).click()
        header = page.locator(".jp-Dialog .jp-Dialog-header").first
        header.wait_for()
        body = page.locator(".jp-Dialog .jp-Dialog-body").first.inner_text()
        # nbgrader saves the notebook, runs it and lists the failing cells of the blank exercise.
        assert header.inner_text().strip() == "Validation Results", (header.inner_text(), body)
        assert "error running the validate command" not in body, body[:1500]
        assert "NotImplementedError" in body, body[:1500]
        page.locator(".jp-Dialog .jp-mod-accept").first.click()
        page.locator(".jp-Dialog").wait_for(state="detached")
        assert git_status(student_lab.repo) == "", (
            f"Validate changed the untouched exercise:\n{git_status(student_lab.repo)}")
        close_without_questions(page, tab)


def test_students_see_no_assignment_list_errors_and_no_formgrader(student_lab, page):
    with on_failure(page, student_lab, "student-tools"):
        page.goto(student_lab.url)
        readme_heading(page).wait_for()
        # Every item of nbgrader's menu is an instructor tool or the Assignments list: no menu.
        menus = [m.strip() for m in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]
        assert "Help" in menus and "Nbgrader" not in menus, menus
        no_error_text(page)


def test_the_instructor_gets_formgrader(instructor_lab, page):
    with on_failure(page, instructor_lab, "instructor-tools"):
        page.goto(instructor_lab.url)
        assert "/lab/tree/README.md" in instructor_lab.url, instructor_lab.url
        readme_heading(page).wait_for()
        assert "Formgrader" in menu_items(page, "Nbgrader")
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
        page.locator(".lm-Menu:visible .lm-Menu-itemLabel").get_by_text(
            "Formgrader", exact=True).click()
        frame = page.frame_locator("#jp-main-dock-panel iframe").first
        frame.get_by_text("Manage Assignments").first.wait_for()


def test_an_untouched_solution_saves_clean_in_the_instructor_lab(instructor_lab, page):
    """nbgrader's instructor extensions (Create Assignment) are loaded here: they change nothing."""
    path = "solutions/00_order_blindness/00_order_blindness.ipynb"
    with on_failure(page, instructor_lab, "solution-save"):
        tab = open_document(page, instructor_lab, path)
        wait_for_idle_kernel(page)
        assert not is_dirty(tab), "the untouched solution opened modified (●)"
        save(page, instructor_lab, path)
        assert git_status(instructor_lab.repo) == "", (
            f"saving an untouched solution changed it:\n{git_diff(instructor_lab.repo)}")
        close_without_questions(page, tab)


def test_the_student_lab_log_is_clean(student_lab):
    """Runs last: everything above happened in this lab."""
    complaints = student_lab.complaints()
    if complaints:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "student-lab.log").write_text(student_lab.log())
    assert not complaints, (
        "the server log has:\n" + "\n".join(complaints)
        + f"\n  server log: {SHOTS / 'student-lab.log'}")
