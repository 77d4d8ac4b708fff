"""Smoke test of the main job: `make lab` serves the course in JupyterLab.

Starts the real `make lab` on a free local port, reads the course through the
server's REST API, and checks the extensions a class needs (widgets, RISE
slides, nbgrader) are installed, enabled and compatible.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
TOKEN = "course-smoke-test"
NEEDED = {
    "@jupyter-widgets/jupyterlab-manager": "ipywidgets explorers",
    "jupyterlab-rise": "live slides",
    "@jupyter/nbgrader": "assignments",
}
# jupyterlab-rise 0.43.1 depends on jupyterlab-mathjax3, a JupyterLab 3 extension.
# JupyterLab 4 reports it incompatible and renders maths with its built-in
# @jupyterlab/mathjax-extension instead; the README explains this.
KNOWN_HARMLESS_INCOMPATIBLE = {"@jupyterlab/mathjax3-extension"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def start_lab(target: str):
    port = free_port()
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={TOKEN} "
            "--ServerApp.port_retries=0")
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"lab-smoke-{port}"),
    )
    process = subprocess.Popen(
        ["make", "--no-print-directory", target, f"LAB_ARGS={args}", f"PYTHON={sys.executable}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if get(f"{base}/api/status?token={TOKEN}")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                pytest.fail(f"JupyterLab did not start:\n{process.communicate(timeout=20)[0]}")
            time.sleep(0.5)
        yield base
    finally:
        stop(process)


@pytest.fixture(scope="module")
def lab():
    yield from start_lab("lab")


@pytest.fixture(scope="module")
def instructor_lab():
    yield from start_lab("lab-instructor")


def stop(process: subprocess.Popen) -> None:
    """Stop make and the jupyter server it started (they share a process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def api(base: str, path: str):
    status, body = get(f"{base}{path}{'&' if '?' in path else '?'}token={TOKEN}")
    assert status == 200
    return json.loads(body)


def test_lab_serves_every_lecture_and_exercise(lab):
    for folder in ("notebooks", "exercises"):
        listed = {item["name"] for item in api(lab, f"/api/contents/{folder}")["content"]}
        for path in sorted((ROOT / folder).glob("*")):
            if path.name.startswith("."):
                continue
            assert path.name in listed
    lecture = api(lab, "/api/contents/notebooks/00_order_blindness.ipynb")
    assert lecture["type"] == "notebook" and len(lecture["content"]["cells"]) > 10
    assert api(lab, "/api/contents/README.md")["type"] == "file"


def test_lab_has_a_python_kernel(lab):
    assert "python3" in api(lab, "/api/kernelspecs")["kernelspecs"]


def test_lab_page_loads_the_course_extensions(lab):
    status, html = get(f"{lab}/lab?token={TOKEN}")
    assert status == 200
    config = json.loads(
        re.search(
            rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
        )[1]
    )
    loaded = {ext["name"] for ext in config["federated_extensions"]}
    for name, purpose in NEEDED.items():
        assert name in loaded, f"{name} ({purpose}) is not served to the browser"


INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list")


def page_config(base: str) -> dict:
    status, html = get(f"{base}/lab?token={TOKEN}")
    assert status == 200
    return json.loads(
        re.search(
            rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
        )[1]
    )


def status_of(url: str) -> int:
    try:
        return get(url)[0]
    except urllib.error.HTTPError as error:
        return error.code


def test_students_do_not_get_the_instructor_tools(lab):
    disabled = page_config(lab)["disabledExtensions"]
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled, f"{plugin} is visible to students"
    assert "@jupyter/nbgrader:validate-assignment" not in disabled, "students still validate"
    assert status_of(f"{lab}/formgrader?token={TOKEN}") == 404


def test_students_get_no_assignment_list_without_an_exchange(lab):
    """A local student has no exchange to fetch from (the exercises are in the folder): the
    Assignments list and its server side are off, so neither shows nor logs an error. On a
    JupyterHub, students never run `make lab` and keep nbgrader's exchange (README)."""
    disabled = page_config(lab)["disabledExtensions"]
    assert "@jupyter/nbgrader:assignment-list" in disabled
    assert "@jupyter/nbgrader:menu" in disabled, "an empty Nbgrader menu"
    assert status_of(f"{lab}/assignments?token={TOKEN}") == 404


def test_instructors_get_formgrader_and_create_assignment(instructor_lab):
    disabled = page_config(instructor_lab)["disabledExtensions"]
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin not in disabled, f"{plugin} is hidden from the instructor"
    assert status_of(f"{instructor_lab}/formgrader?token={TOKEN}") == 200


def test_markdown_opens_rendered(lab):
    settings = api(lab, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    assert (
        settings["schema"]["properties"]["defaultViewers"]["default"].get("markdown")
        == "Markdown Preview"
    )


def test_extensions_are_enabled_and_compatible():
    listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                             capture_output=True, text=True, check=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    rows = dict(re.findall(r"^\s+(\S+) v\S+ (enabled\s+(?:OK|X)|disabled\s+(?:OK|X))", text, re.M))
    for name in NEEDED:
        assert rows.get(name, "").split() == ["enabled", "OK"], f"{name}: {rows.get(name)}"
    incompatible = {name for name, state in rows.items() if state.endswith("X")}
    assert incompatible <= KNOWN_HARMLESS_INCOMPATIBLE, incompatible
    for name in incompatible:
        assert name in (ROOT / "README.md").read_text(), (
            f"README must explain why {name} is harmless"
        )
