"""Store notebooks in exactly the form JupyterLab saves them.

An untouched notebook must open clean in JupyterLab: no ● on its tab, no "Save your work?" when it
is closed, and no change in `git status` after it is opened, run, saved (Validate and RISE save
too) and closed. Measured with JupyterLab 4.6.6, jupyter_server 2.21.1, nbformat 5.11.1 and
ipykernel 7.4.0 (tests/test_lab_browser.py repeats the measurement in Chromium):

- When the kernel starts, JupyterLab replaces the stored `metadata.kernelspec` and
  `metadata.language_info` with what the kernel reports, and marks the notebook modified if that
  changes anything. ipykernel's `language_info` includes the full Python version (3.11.7), so a
  trimmed `{"name": "python"}` or another patch version opens modified.
- The server writes the file with `nbformat.write`: indent 1, sorted keys, characters as they are
  (no \\u escapes), every multi-line string as a list of lines, and a final newline.

This tool asks the course's kernel (`python3`, the one `make lab` starts) for its kernel_info and
rewrites each notebook into that form; outputs and execution counts are cleared. A machine whose
Python differs (another patch release) gets a different `version` from its kernel: there, an
untouched notebook opens modified and a save changes that one line (see the README).

    .venv/bin/python tools/normalise_notebooks.py          # notebooks/, solutions/, exercises/
    .venv/bin/python tools/normalise_notebooks.py --check  # list those not in the form; exit 1
    .venv/bin/python tools/normalise_notebooks.py FILE...  # only these

exercises/ is nbgrader's output for solutions/, which copies the notebook metadata: after a
normalise, `make exercises` reproduces the normalised exercises byte for byte.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")
KERNEL = "python3"


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every committed-style notebook of the course (checkpoints excluded)."""
    return sorted(
        p
        for folder in FOLDERS
        for p in (root / folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


def kernel_metadata(kernel_name: str = KERNEL) -> dict:
    """The notebook metadata JupyterLab writes for `kernel_name`: its kernelspec as the lab
    stores it, and the language_info the running kernel answers to kernel_info."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    # IPC, as `make lab` runs kernels (over TCP ipykernel warns that it is unencrypted)
    manager = KernelManager(kernel_name=kernel_name, transport="tcp" if os.name == "nt" else "ipc")
    manager.start_kernel()
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.kernel_info(reply=True, timeout=60)
        language_info = reply["content"]["language_info"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return {
        "kernelspec": {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": kernel_name,
        },
        "language_info": language_info,
    }


def normalise(text: str, metadata: dict) -> str:
    """`text` (a notebook file) rewritten the way JupyterLab saves it with this kernel."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nb.metadata.update(nbformat.from_dict(metadata))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return out if out.endswith("\n") else out + "\n"   # as nbformat.write, which the server uses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="notebooks to rewrite (default: all of notebooks/, solutions/, "
                             "exercises/)")
    parser.add_argument("--check", action="store_true",
                        help="only list notebooks that are not in the form; exit 1 if any")
    args = parser.parse_args(argv)
    files = args.files or course_notebooks()
    metadata = kernel_metadata()
    version = metadata["language_info"].get("version")
    stale = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        wanted = normalise(text, metadata)
        if wanted != text:
            stale.append(path)
            if not args.check:
                path.write_text(wanted, encoding="utf-8")
    verb = "not in JupyterLab's form" if args.check else "rewritten"
    print(f"{len(stale)} of {len(files)} notebooks {verb} (kernel {KERNEL}, Python {version})")
    for path in stale:
        print(f"  {os.path.relpath(path)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
