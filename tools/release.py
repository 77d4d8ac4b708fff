"""Build the bundle students get: `make release`.

    dist/positional-encodings-course.zip   what you hand out (zip, LMS, a separate repository)
    dist/positional-encodings-course/      the same files, unpacked

Everything comes from one commit (default HEAD; `--ref v1.0` for another), never
from the work tree: uncommitted edits and untracked files (grading/, .venv, a
student's submission lying around) cannot end up in the bundle, and the same
commit always gives the same zip, byte for byte (sorted entries, fixed
timestamps and permissions).

The bundle holds the lectures, the generated exercises, course_lib without the
instructor's grading tools, the set-up files, a student Makefile (help, lab,
test, clean) and a student README generated from the main one. Before writing
anything the build checks every file it would ship and stops with an error if
one contains an nbgrader solution or hidden-test marker, a line of an
instructor solution (see tools/release_allowlist.txt for the reviewed
exceptions) or anything from solutions/, tests/calibration/ or the grading
tools. Needs only the standard library and git.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "positional-encodings-course"
ALLOWLIST = Path(__file__).with_name("release_allowlist.txt")

# Committed files students get: a path ending in "/" is a folder and everything under it.
INCLUDE = (
    "notebooks/",
    "exercises/",
    "course_lib/",
    "pyproject.toml",
    "environment.yml",
    ".jupyter-overrides.json",
    ".jupyter-student/labconfig/",
    ".jupyter-student/jupyter_server_config.json",
    ".jupyter-student/nbgrader_config.json",
    ".gitignore",
)
# Instructor-only, even where INCLUDE would take it.
EXCLUDE = ("course_lib/grade.py", "course_lib/grading/")
# Checked again on the finished bundle, generated files included: any of these is an error.
FORBIDDEN = ("solutions/", "tests/calibration/", "course_lib/grading/", "course_lib/grade.py")
JUNK_PARTS = {"__pycache__", ".ipynb_checkpoints"}
MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")
# shorter solution lines (`return x`, `d = x.shape[-1]`) are too common to mean anything
MIN_LINE = 20

# The student README: main README sections kept as they are, replaced, or dropped.
# A section in none of these stops the build, so a new section is never shipped or lost unseen.
README_KEEP = ("Course map", "For students")
README_REPLACE = ("Get started",)
README_DROP = ("For instructors", "Adding a chapter", "Repository layout")

# One line per top-level entry of the bundle, for the README's layout block.
LAYOUT = {
    "README.md": "this page",
    "Makefile": "make lab, make test, make clean",
    "pyproject.toml": "the course_lib package and its pinned requirements",
    "environment.yml": "conda route: Python + pip, then pyproject.toml",
    "notebooks/": "NN_topic.ipynb lecture notebooks",
    "exercises/": "NN_topic/NN_topic.ipynb graded exercises: work in one, hand in that notebook",
    "course_lib/": "shared helpers the notebooks use, one small module per idea",
    ".jupyter-student/": "JupyterLab settings `make lab` uses",
    ".jupyter-overrides.json": "opens Markdown files rendered (installed by `make lab`)",
    ".gitignore": "files git should not track (.venv/, checkpoints)",
}


class ReleaseError(Exception):
    pass


# --- reading one commit ---------------------------------------------------------

def git(*args: str, text: bool = True) -> str | bytes:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=text)
    if result.returncode != 0:
        err = result.stderr if text else result.stderr.decode(errors="replace")
        raise ReleaseError(f"git {' '.join(args)} failed: {err.strip()}")
    return result.stdout


def committed_files(ref: str) -> dict[str, bytes]:
    """Every file of ``ref`` (path -> content), as committed."""
    listing = git("ls-tree", "-r", "-z", "--full-tree", ref)
    entries = []
    for record in listing.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000":     # no submodules, no symlinks
            entries.append((path, sha))
    batch = subprocess.run(["git", "cat-file", "--batch"], cwd=ROOT, capture_output=True,
                           input="".join(f"{sha}\n" for _, sha in entries).encode())
    if batch.returncode != 0:
        raise ReleaseError(f"git cat-file failed: {batch.stderr.decode(errors='replace').strip()}")
    out, pos, files = batch.stdout, 0, {}
    for path, sha in entries:
        header_end = out.index(b"\n", pos)
        got_sha, _, size = out[pos:header_end].decode().split()
        assert got_sha == sha, (got_sha, sha)
        start = header_end + 1
        files[path] = out[start:start + int(size)]
        pos = start + int(size) + 1
    return files


def selected(path: str) -> bool:
    parts = path.split("/")
    if JUNK_PARTS & set(parts) or path.endswith(".pyc"):
        return False
    if any(path == e or (e.endswith("/") and path.startswith(e)) for e in EXCLUDE):
        return False
    return any(path == i or (i.endswith("/") and path.startswith(i)) for i in INCLUDE)


# --- generated files ------------------------------------------------------------

def readme_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The preamble (title and intro) and every `## ` section as (heading, whole text)."""
    chunks = re.split(r"(?m)^(?=## )", text)
    preamble, sections = chunks[0], []
    for chunk in chunks[1:]:
        heading = chunk.splitlines()[0][3:].strip()
        sections.append((heading, chunk))
    return preamble, sections


def classify(heading: str, names: tuple[str, ...]) -> bool:
    return any(
        heading == n or heading.startswith(n + ":") or heading.startswith(n + " ") for n in names
    )


GET_STARTED = """\
## Get started

You need Python ≥ 3.10 and `make`. In this folder:

```bash
make lab     # first time: creates .venv and installs everything (~2 min), then opens JupyterLab
make test    # runs every lecture notebook top to bottom: each claim in them is checked by a cell
```

`make lab` opens this README in JupyterLab; open `notebooks/00_order_blindness.ipynb` to begin.

**Without make** (the same steps by hand):

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install -e .
JUPYTER_CONFIG_DIR=.jupyter-student jupyter lab README.md
```

**With conda:** `conda env create -f environment.yml && conda activate positional-encodings &&
jupyter lab README.md`.
`environment.yml` only provides Python and pip and installs the package list from `pyproject.toml`,
so both routes get exactly the same pinned versions.

"""


def student_readme(main_readme: str, top_level: list[str]) -> str:
    preamble, sections = readme_sections(main_readme)
    if not preamble.startswith("# "):
        raise ReleaseError("README.md: expected the title (`# ...`) on the first line")
    out, seen = [preamble], set()
    for heading, chunk in sections:
        if classify(heading, README_KEEP):
            out.append(chunk.rstrip("\n") + "\n\n")
        elif classify(heading, README_REPLACE):
            out.append(GET_STARTED)
        elif not classify(heading, README_DROP):
            raise ReleaseError(
                f"README.md: section {heading!r} is neither kept nor dropped for students; "
                "add it to README_KEEP, README_REPLACE or README_DROP in tools/release.py")
        seen.add(
            next(
                (n for n in README_KEEP + README_REPLACE + README_DROP if classify(heading, (n,))),
                heading,
            )
        )
    missing = [n for n in README_KEEP + README_REPLACE if n not in seen]
    if missing:
        raise ReleaseError(f"README.md: no section {missing} to give students")
    undescribed = [e for e in top_level if e not in LAYOUT]
    if undescribed:
        raise ReleaseError(
            f"the bundle has top-level entries {undescribed} with no line in LAYOUT "
            "(tools/release.py)"
        )
    shown = [e for e in LAYOUT if e in top_level]          # LAYOUT's order: most useful first
    width = max(len(e) for e in shown) + 2
    layout = "\n".join(f"{e:<{width}}{LAYOUT[e]}" for e in shown)
    out.append(f"## What is in this folder\n\n```\n{layout}\n```\n")
    return "".join(out)


def make_rule(makefile: str, target: str) -> str:
    """One rule of the main Makefile, from `target:` to the next blank line."""
    match = re.search(rf"(?m)^{re.escape(target)}:.*\n(?:\t.*\n)+", makefile)
    if not match:
        raise ReleaseError(f"Makefile: no rule {target!r} to copy into the student Makefile")
    return match.group(0)


def make_assignment(makefile: str, name: str) -> str:
    match = re.search(rf"(?m)^{name}\s*[:?]?=.*\n", makefile)
    if not match:
        raise ReleaseError(f"Makefile: no variable {name!r} to copy into the student Makefile")
    return match.group(0)


def student_makefile(main_makefile: str) -> str:
    """help, lab, test, clean. The set-up stamp and the lab rule are copied from the
    main Makefile, so students' `make lab` is exactly the course's."""
    header = "".join(make_assignment(main_makefile, v) for v in ("PYTHON", "VENV", "BIN", "PY"))
    return f"""\
# The course's front door. Two commands:
#   make lab    set up (first time only) and open the course in JupyterLab
#   make test   run every lecture notebook top to bottom (each claim is checked by a cell)
# Everything is installed into ./.venv from pyproject.toml; nothing global.

{header}# Tools shell out to their siblings, so the environment's bin/ goes first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Slow cells (training loops) get this many seconds before nbval gives up.
CELL_TIMEOUT ?= 300

.PHONY: help lab test clean

help:
\t@echo "make lab    set up and open the course in JupyterLab (start here)"
\t@echo "make test   set up and run every lecture notebook top to bottom (nbval)"
\t@echo "make clean  remove the virtual environment (never your notebooks)"

# --- set-up -----------------------------------------------------------------
# A stamp file, so `make` reinstalls only when pyproject.toml changes.
{make_rule(main_makefile, "$(VENV)/.course")}
# --- the main job -----------------------------------------------------------
# LAB_ARGS passes options through, e.g. make lab LAB_ARGS="--port=8890 --no-browser".
# Jupyter refuses to start as root unless told; containers often run as root.
{make_assignment(main_makefile, "AS_ROOT")}# .jupyter-student/ is read as the user config directory
# (the course's JupyterLab settings).
{make_rule(main_makefile, "lab")}
# --- tests ------------------------------------------------------------------
# nbval runs every lecture notebook and checks that each cell still runs.
test: $(VENV)/.course
\t$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) notebooks

clean:
\trm -rf $(VENV)
"""


# --- what must never ship ---------------------------------------------------------

def notebook_text(data: bytes) -> str:
    """A notebook's cells as a person reads them (JSON escapes undone), outputs included."""
    try:
        nb = json.loads(data)
    except ValueError:
        return ""
    parts = []
    for cell in nb.get("cells", []):
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for value in output.get("data", {}).values():
                parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def readable(path: str, data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text + "\n" + notebook_text(data) if path.endswith(".ipynb") else text


def solution_lines(files: dict[str, bytes]) -> dict[str, str]:
    """Every stripped line of ≥ MIN_LINE characters inside a solution region -> the notebook it is
    from."""
    lines = {}
    for path in sorted(files):
        if not (path.startswith("solutions/") and path.endswith(".ipynb") and path.count("/") == 2):
            continue
        for cell in json.loads(files[path])["cells"]:
            inside = False
            for line in "".join(cell.get("source", "")).splitlines():
                stripped = line.strip()
                if stripped == "### BEGIN SOLUTION":
                    inside = True
                elif stripped == "### END SOLUTION":
                    inside = False
                elif inside and len(stripped) >= MIN_LINE:
                    lines.setdefault(stripped, path)
    return lines


def read_allowlist() -> set[tuple[str, str]]:
    """(bundle path, solution line) pairs reviewed as the course's own public code, not a leak."""
    allowed = set()
    if not ALLOWLIST.exists():
        return allowed
    for number, raw in enumerate(ALLOWLIST.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        path, sep, line = raw.partition(" | ")
        if not sep or not line.strip():
            raise ReleaseError(f"{ALLOWLIST.name}:{number}: expected `path | solution line`")
        if path.startswith("exercises/") or path in ("README.md", "Makefile"):
            raise ReleaseError(
                f"{ALLOWLIST.name}:{number}: a solution line may never be allowed in {path}"
            )
        allowed.add((path.strip(), line.strip()))
    return allowed


def leaks(
    bundle: dict[str, bytes], solutions: dict[str, str], allowed: set[tuple[str, str]]
) -> list[str]:
    problems = []
    for path in sorted(bundle):
        if any(path.startswith(f) if f.endswith("/") else path == f for f in FORBIDDEN):
            problems.append(f"{path}: instructor-only file")
        text = readable(path, bundle[path])
        for marker in MARKERS:
            if marker in text:
                problems.append(f"{path}: contains {marker!r}")
        for line, source in solutions.items():
            if line in text and (path, line) not in allowed:
                problems.append(f"{path}: contains a line of the solution in {source}: {line!r}")
    return problems


# --- writing ----------------------------------------------------------------------

def zip_bytes(bundle: dict[str, bytes]) -> bytes:
    """The same files give the same bytes: sorted, 1980-01-01 timestamps, mode 644, deflate level
    9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(bundle):
            info = zipfile.ZipInfo(f"{NAME}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3                       # unix, so the permissions below are read
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, bundle[path], compresslevel=9)
    return buffer.getvalue()


def build(ref: str) -> tuple[dict[str, bytes], str]:
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    files = committed_files(commit)
    bundle = {path: data for path, data in files.items() if selected(path)}
    for needed in ("README.md", "Makefile"):
        if needed not in files:
            raise ReleaseError(f"{needed} is not committed in {ref}")
    top_level = sorted(
        {p.split("/")[0] + ("/" if "/" in p else "") for p in bundle} | {"README.md", "Makefile"}
    )
    bundle["README.md"] = student_readme(files["README.md"].decode(), top_level).encode()
    bundle["Makefile"] = student_makefile(files["Makefile"].decode()).encode()

    solutions = solution_lines(files)
    if not solutions:
        raise ReleaseError(
            f"no solution regions found in solutions/*/*.ipynb of {ref}: nothing to check against"
        )
    allowed = read_allowlist()
    problems = leaks(bundle, solutions, allowed)
    if problems:
        raise ReleaseError(
            "the bundle would give away instructor material:\n  " + "\n  ".join(problems)
        )
    for path, line in sorted(allowed):
        if line not in solutions or path not in bundle or line not in readable(path, bundle[path]):
            print(
                f"note: {ALLOWLIST.name} entry no longer needed: {path} | {line}", file=sys.stderr
            )
    return bundle, commit


def uncommitted(bundle_paths: set[str]) -> list[str]:
    records, changed = git("status", "--porcelain", "-z", "--untracked-files=no").split("\0"), []
    while records:
        record = records.pop(0)
        if len(record) > 3:
            changed.append(record[3:])
            # a rename or copy: the next record is the old path
            if record[0] in "RC" and records:
                changed.append(records.pop(0))
    return sorted(
        p
        for p in changed
        if p in bundle_paths or p.startswith("solutions/") or p in ("README.md", "Makefile")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist",
                        help="folder for the zip and the unpacked tree (default: dist/)")
    parser.add_argument("--ref", default="HEAD", help="the commit to bundle (default: HEAD)")
    args = parser.parse_args(argv)

    out = args.out.resolve()
    archive, tree = out / f"{NAME}.zip", out / NAME
    # A failed build leaves no bundle behind, so an old one cannot be handed out by mistake.
    archive.unlink(missing_ok=True)
    shutil.rmtree(tree, ignore_errors=True)
    try:
        bundle, commit = build(args.ref)
    except ReleaseError as error:
        print(f"release: FAILED: {error}", file=sys.stderr)
        return 1

    data = zip_bytes(bundle)
    out.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".zip.partial")
    partial.write_bytes(data)
    partial.replace(archive)
    for path, content in bundle.items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    dirty = uncommitted(set(bundle)) if args.ref == "HEAD" else []
    if dirty:
        print(
            "note: built from the last commit; uncommitted changes are NOT in the bundle: "
            f"{', '.join(dirty)}",
            file=sys.stderr,
        )
    shown = archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive
    print(f"release: {shown} ({len(data):,} bytes, {len(bundle)} files) from commit {commit[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
