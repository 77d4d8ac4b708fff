"""How long grading a class takes: sandboxed against unsandboxed, one student at a time against two.

Grades one class of generated submissions (chapter 01: the instructor's answers and the calibration
corpus's wrong answers, repeated to CLASS_SIZE students) four ways, side by side in one run, and
prints seconds per submission and the ratios. Needs bubblewrap (Linux).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from nbgrader_course import filled_in, submit  # noqa: E402

from course_lib.grade import grade  # noqa: E402

ASSIGNMENT = "01_integer_dimension"
CLASS_SIZE = 20


def make_class(folder: Path) -> None:
    source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    spec = importlib.util.spec_from_file_location(
        "corpus", ROOT / "tests" / "calibration" / f"{ASSIGNMENT}.py"
    )
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    answers = [{}] + [{w["cell"]: w["source"]} for w in corpus.WRONG_ANSWERS.values()]
    for i in range(CLASS_SIZE):
        submit(
            folder,
            ASSIGNMENT,
            f"student{i:02d}",
            filled_in(release, source, answers[i % len(answers)]),
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_class(tmp)
        timings = {}
        for unsandboxed in (False, True):
            for jobs in (1, 2):
                started = time.perf_counter()
                grade(
                    ASSIGNMENT,
                    tmp / "submitted",
                    tmp / f"out-{unsandboxed}-{jobs}",
                    timeout=60,
                    jobs=jobs,
                    unsandboxed=unsandboxed,
                )
                timings[(unsandboxed, jobs)] = (time.perf_counter() - started) / CLASS_SIZE
    print(f"grading {CLASS_SIZE} submissions of {ASSIGNMENT}: seconds per submission")
    for (unsandboxed, jobs), seconds in timings.items():
        print(f"  {'unsandboxed' if unsandboxed else 'sandboxed  '}  jobs={jobs}: {seconds:.2f} s")
    for jobs in (1, 2):
        print(
            f"  sandbox cost at jobs={jobs}: {timings[(False, jobs)] / timings[(True, jobs)]:.2f}x"
        )
    print(
        f"  two jobs instead of one (sandboxed): {timings[(False, 1)] / timings[(False, 2)]:.2f}x "
        "faster"
    )


if __name__ == "__main__":
    main()
