"""Do the lecture notebooks' claims hold on other random draws? Re-run them with every seed shifted.

    python tools/seed_shift.py [--shifts 1 2 5] [--jobs 2] [notebook ...]      (make seeds)

A conclusion drawn from one random draw (a trained model, random weights, a sampled test set) is an
anecdote until it holds on others. This tool runs each lecture notebook top to bottom once per shift
s, with every seed the notebook or ``course_lib`` sets moved from n to n + s: ``torch.manual_seed``,
``torch.Generator().manual_seed``, ``random.seed`` and ``numpy.random.seed`` are wrapped in the
kernel by an IPython start-up file, so nothing in the notebooks changes. The notebooks' asserts are
the checks (nbval, as in ``make test``); the table gives, per notebook and shift, the cells that
failed and the first line of each failure. Exit status 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in the kernel before the notebook's first cell. Every later lookup of these names (course_lib
# and the notebooks call them through their modules) gets the shifted version.
STARTUP = '''\
import os as _os
import random as _random

import numpy as _np
import torch as _torch

_SHIFT = int(_os.environ["COURSE_SEED_SHIFT"])
_manual_seed, _random_seed, _numpy_seed = _torch.manual_seed, _random.seed, _np.random.seed


class _ShiftedGenerator(_torch.Generator):
    def manual_seed(self, seed):
        return super().manual_seed(int(seed) + _SHIFT)


_torch.Generator = _ShiftedGenerator
_torch.manual_seed = _torch.random.manual_seed = lambda seed: _manual_seed(int(seed) + _SHIFT)
_random.seed = lambda a=None, *args, **kw: _random_seed(
    a + _SHIFT if isinstance(a, int) else a, *args, **kw)
_np.random.seed = lambda seed=None: _numpy_seed(None if seed is None else int(seed) + _SHIFT)
'''


def lecture_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def run_shifted(notebooks: list[Path], shift: int, jobs: int = 2,
                cell_timeout: int = 300) -> dict[str, list[tuple[str, str]]]:
    """Run ``notebooks`` with every seed moved by ``shift``.

    Returns {notebook name: [(cell id, first line of the failure), ...]} (empty list: all passed).
    """
    with tempfile.TemporaryDirectory() as tmp:
        startup = Path(tmp) / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-course-seed-shift.py").write_text(STARTUP)
        report = Path(tmp) / "report.xml"
        env = {**os.environ, "COURSE_SEED_SHIFT": str(shift), "IPYTHONDIR": str(startup.parents[1])}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout}",
                   f"--junitxml={report}",
                   *([f"-n{jobs}", "--dist", "loadfile"] if jobs > 1 else []),
                   *map(str, notebooks)]
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        return _failures(report, notebooks)


def _failures(report: Path, notebooks: list[Path]) -> dict[str, list[tuple[str, str]]]:
    failed: dict[str, list[tuple[str, str]]] = {nb.name: [] for nb in notebooks}
    if not report.exists():
        raise RuntimeError("pytest wrote no report: did it start? Run it by hand to see why.")
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        name = Path(case.get("file") or case.get("classname", "").replace(".", "/")).name
        notebook = next((nb.name for nb in notebooks if nb.stem in (case.get("classname") or "")
                         or nb.name == name), name)
        failed.setdefault(notebook, []).append((case.get("name", "?"), _first_line(problem)))
    return failed


def _first_line(problem: ET.Element) -> str:
    # nbval's message attribute is a summary ("[+19 more lines; ...]"); the traceback is the text.
    text = f"{problem.text or ''}\n{problem.get('message') or ''}".strip()
    # the exception line of the traceback, e.g. "AssertionError: causal keeps ..."
    lines = [line for line in map(str.strip, text.splitlines())
             if re.match(r"[\w.]*(Error|Exception)\b", line)] or text.splitlines()
    return lines[-1][:160] if lines else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every lecture notebook")
    parser.add_argument("--shifts", nargs="+", type=int, default=[1, 2, 5])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    notebooks = [nb.resolve() for nb in args.notebooks] or lecture_notebooks()
    results = {shift: run_shifted(notebooks, shift, args.jobs) for shift in args.shifts}
    print(f"{'notebook':<32}" + "".join(f"  shift {s:<3}" for s in args.shifts))
    for nb in notebooks:
        cells = [len(results[s].get(nb.name, [])) for s in args.shifts]
        print(f"{nb.name:<32}" + "".join("  holds    " if not n else f"  {n} failed "
                                         for n in cells))
    for shift, failed in results.items():
        for notebook, cases in failed.items():
            for cell, line in cases:
                print(f"shift {shift}: {notebook} {cell}: {line}")
    return int(any(cases for failed in results.values() for cases in failed.values()))


if __name__ == "__main__":
    sys.exit(main())
