"""Hostile submissions, graded in one class with honest students before and after them.

Every attack the grading-integrity review tried against the old nbgrader pipeline is here, each as
its own student (see ATTACKS): forging a score (patched checkers, torch, IPython hooks, the
gradebook, fake reply frames), spying (solutions, hidden tests, classmates' notebooks, the
gradebook), evading "write it yourself" rules (getattr, eval, importlib, aliases, wrapper classes),
and sabotage (killing processes, overwriting files, a detached daemon, a fork bomb, a memory hog, 60
MB of output, a loop that swallows interrupts, a non-UTF-8 file name). The claims, all checked on
one graded class:

* each attacker scores exactly what its honest work deserves (most do no honest work: 0);
* the honest students graded before and after them score 10;
* every submission is byte-identical afterwards; the CSV and the report list every student;
* no process of any sandbox is left running; no hidden-test code is in any feedback page or log.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import (
    ROOT,
    csv_scores,
    filled_in,
    fingerprint,
    hidden_test_lines,
    nbgrader_meta,
    points_per_test,
    submit,
)

from course_lib.grade import grade
from course_lib.grading.sandbox import SANDBOX_UID_BASE, SANDBOX_UID_COUNT, Sandbox

pytestmark = pytest.mark.slow

TIMEOUT = 10
# tests: append_position 2, row_entropy 3, logit_growth 2, cosine_after_layernorm 3
CH01 = "01_integer_dimension"
CH05 = "05_rope"                     # points per test: read from the notebook (points_per_test)

WRONG_GROWTH = "def logit_growth(n_short, n_long):\n    return 1.0\n"
WRONG_ENTROPY = "def row_entropy(weights):\n    return weights.sum(-1) * 0\n"
WRONG_COSINE = "def cosine_after_layernorm(rho, p, q, d, mode):\n    return 0.0\n"

# Forge: the answers are wrong; the attack tries to make the tests pass anyway.
FORGE = {
    "patch-checkers": """
import course_lib, course_lib.checkers as checks
for name in ("check_tensor", "check_number", "check_equal", "check_does_not_use"):
    setattr(checks, name, lambda *a, **k: None)
    setattr(course_lib, name, lambda *a, **k: None)
    globals()[name] = lambda *a, **k: None
""",
    "patch-torch": """
import torch
torch.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: True
torch.equal = lambda *a, **k: True
""",
    "ipython-hooks": """
ip = get_ipython()
ip.events.register("pre_run_cell", lambda *a: ip.displayhook(1))
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
class Swallow:
    def __call__(self, lines):
        body = ["    " + l for l in lines]
        return ["try:\\n"] + body + ["\\nexcept BaseException:\\n    pass\\n"]
ip.input_transformers_post.append(Swallow())
""",
    "gradebook-write": """
import glob, os
for path in glob.glob("/**/gradebook.db", recursive=True) + ["gradebook.db", "../gradebook.db"]:
    try:
        from nbgrader.api import Gradebook
        with Gradebook("sqlite:///" + os.path.abspath(path)) as gb:
            for grade in gb.db.query(__import__("nbgrader").api.Grade).all():
                grade.extra_credit = 990
            gb.db.commit()
    except Exception as error:
        print("gradebook:", error)
""",
    "fake-replies": """
import json, os, struct
frame = json.dumps({"ok": True, "value": 10.0, "names": {}}).encode()
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack(">I", len(frame)) + frame)
    except OSError:
        pass
""",
    "print-checkmarks": """
print("✓ exercise 1: visible tests passed\\n✓ exercise 2: visible tests passed\\n"
      "✓ exercise 3: visible tests passed")
import sys
sys.stdout.write("Score: 10.0 / 10.0\\n")
""",
}

# Spy: look for the solutions, the hidden tests, classmates' work; copy an answer if any is found.
SPY = {
    "read-solutions": """
import glob, json, os, course_lib
roots = ["../../..", "../../../solutions", os.path.dirname(os.path.dirname(course_lib.__file__)),
         "/", "/tmp", "/work", "/root", os.path.expanduser("~")]
found = []
for root in roots:
    found += glob.glob(os.path.join(root, "**", "*.ipynb"), recursive=True)[:50]
print("found:", found)
for path in found:
    try:
        nb = json.load(open(path))
    except Exception:
        continue
    for cell in nb.get("cells", []):
        src = "".join(cell.get("source", ""))
        if ("BEGIN SOLUTION" in src
                or "def logit_growth" in src and "raise NotImplementedError" not in src):
            exec(src.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), globals())
""",
    "read-stack-for-hidden-tests": """
import inspect, sys
def logit_growth(n_short, n_long):
    for frame in inspect.stack():
        print("frame:", frame.filename, frame.code_context)
    print(open("/proc/self/cmdline").read(), list(sys.modules)[:5])
    return 1.0
""",
    "list-processes": """
import os
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(pid, open(f"/proc/{pid}/cmdline").read().replace("\\0", " "))
        except OSError:
            pass
""",
}

# Sabotage: try to hurt the grader or the classmates graded after.
SABOTAGE = {
    "kill-everything": """
import os, signal
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
""",
    "overwrite-files": """
import glob, os
for pattern in ["/**/*.ipynb", "/**/grades.csv", "/**/gradebook.db", "/**/*.html", "/tmp/**"]:
    for path in glob.glob(pattern, recursive=True)[:200]:
        try:
            open(path, "w").write("overwritten")
        except OSError:
            pass
""",
    "detached-daemon": """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(600):
            time.sleep(0.1)
            for path in ("/tmp/grades.csv", "grades.csv"):
                try:
                    open(path, "w").write("student_id,score\\nattacker,990\\n")
                except OSError:
                    pass
        os._exit(0)
    os._exit(0)
""",
    "fork-bomb": """
import os, time
children = 0
for _ in range(5000):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        break
print("children:", children)
""",
    "memory-hog": """
hog = []
try:
    while True:
        hog.append(bytearray(100 * 2**20))
except MemoryError:
    pass
hog = None
""",
    "swallow-interrupts": """
import time
while True:
    try:
        time.sleep(1)
    except BaseException:
        pass
""",
    "huge-output": """
import sys
chunk = "x" * 1_000_000 + "\\n"
for _ in range(60):
    sys.stdout.write(chunk)
""",
    "exit-the-process": """
import os
os._exit(0)
""",
    "cpu-hog-children": """
import os, time
for _ in range(40):
    try:
        if os.fork() == 0:
            os.setsid()
            end = time.monotonic() + 60
            while time.monotonic() < end:
                pass
            os._exit(0)
    except OSError:
        break
time.sleep(8)
""",
}

# Lines a student might try to slip into report.txt, and output that grows with the number of cells.
FORGED_REPORT = """raise ValueError("ok\\nattack-forge-report: 10 / 10 (2.1 s)"
                 "\\nzzz-honest: 0 / 10 (1.9 s)")"""
MANY_ERRORS = "raise ValueError('%d' + 'x' * 2100)\n"

# Cheating on "write it yourself" (chapter 05, exercise 1): the rest is honest.
BY_HAND = {
    "getattr": "import course_lib\ndef rope_interleaved(x, positions, base=10000.0):\n"
    "    return getattr(course_lib, 'apply_' + 'rope')(x, positions, base)\n",
    "eval": "def rope_interleaved(x, positions, base=10000.0):\n"
    "    return eval('apply' + '_rope')(x, positions, base)\n",
    "importlib": "import importlib\ndef rope_interleaved(x, positions, base=10000.0):\n"
    "    return importlib.import_module('course_lib.rope').__dict__['apply_rope'](x, positions, "
    "base)\n",
    "alias": "from course_lib import apply_rope as turn\n"
    "def rope_interleaved(x, positions, base=10000.0):\n    return turn(x, positions, base)\n",
    "wrapper-class": "from course_lib import RotaryPositions\n"
    "def rope_interleaved(x, positions, base=10000.0):\n"
    "    return RotaryPositions(x.shape[-1], base=base).rotate(x, positions)\n",
    "sys-modules": "import sys\ndef rope_interleaved(x, positions, base=10000.0):\n"
    "    return vars(sys.modules['course_lib'])['apply_rope'](x, positions, base)\n",
    "wrapped-dunder": "def rope_interleaved(x, positions, base=10000.0):\n"
    "    return check_tensor.__globals__['torch'].nn.functional.__dict__ and "
    "apply_rope.__wrapped__(x, positions, base)\n",
    "operator": "import operator, course_lib\nfind = operator.attrgetter('apply_rope')\n"
    "def rope_interleaved(x, positions, base=10000.0):\n"
    "    return find(course_lib)(x, positions, base)\n",
    "pydoc-locate": "import pydoc\ndef rope_interleaved(x, positions, base=10000.0):\n"
    "    return pydoc.locate('course_lib.rope.apply' + '_rope')(x, positions, base)\n",
    # GPT-J's interleaved rotation, from HF transformers: a public name no ban list holds
    "hf-gptj": "import torch\nfrom transformers.models.gptj.modeling_gptj import "
    "apply_rotary_pos_emb as turn\ndef rope_interleaved(x, positions, base=10000.0):\n"
    "    d = x.shape[-1]\n"
    "    angles = positions[:, None].double() * base ** (-torch.arange(0, d, 2).double() / d)\n"
    "    return turn(x[None, :, None], angles.sin()[None].to(x.dtype), "
    "angles.cos()[None].to(x.dtype))[0, :, 0]\n",
}


# Routes a first reviewer found, each paired with a cell that silences the run-time record.
QUIET = """import course_lib
G = course_lib.rope.apply_rope.__globals__
class Quiet:
    calling = False
    library_calls = ()
    def __setattr__(self, k, v):
        pass
G["_State"] = Quiet()
"""
NAMES_PATCH = QUIET + """R = G["Runner"]
_original = R.op_names
def op_names(self, request):
    reply = _original(self, request)
    if "rope_interleaved" in reply["names"]:
        f = self.shell.user_ns["rope_interleaved"]
        self.handles[id(f)] = f
        handle = {"handle": {"id": id(f), "type": "f"}}
        reply["names"]["rope_interleaved"] = {"kind": "value", "value": handle}
    return reply
R.op_names = op_names
"""
BY_HAND_WITH_EXTRA_CELL = {
    "cell-magic": (
        "%%capture\n" + QUIET + "def rope_interleaved(x, positions, base=10000.0):\n"
        "    return apply_rope(x, positions, base)\n",
        "",
    ),
    "global-in-function": (
        "def prepare():\n    global turn\n    from course_lib import apply_rope as turn\n"
        "prepare()\ndef rope_interleaved(x, positions, base=10000.0):\n"
        "    return turn(x, positions, base)\n",
        QUIET,
    ),
    "match-alias": (
        "import course_lib\nmatch course_lib:\n    case object(apply_rope=turn):\n        pass\n"
        "def rope_interleaved(x, positions, base=10000.0):\n    return turn(x, positions, base)\n",
        QUIET,
    ),
    "forged-names-reply": (
        "def rope_interleaved(x, positions, base=10000.0):\n"
        "    return apply_rope(x, positions, base)\n",
        NAMES_PATCH,
    ),
    "another-library-rotation": (
        "from course_lib import offset_rotation\n"
        "def rope_interleaved(x, positions, base=10000.0):\n    d = x.shape[-1]\n"
        "    rows = [x[j:j + 1].double() @ offset_rotation(int(m), d, base).double()\n"
        "            for j, m in enumerate(positions.tolist())]\n"
        "    return torch.cat(rows).to(x.dtype)\n",
        "",
    ),
}

# Honest answers that read like rule-breaking to a careless reader: all must score 10.
_BODY = """    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = angles.cos(), angles.sin()
    a, b = x[:, 0::2].double(), x[:, 1::2].double()
    out = torch.empty(x.shape, dtype=torch.float64)
    out[:, 0::2] = a * cos - b * sin
    out[:, 1::2] = a * sin + b * cos
    return out.to(x.dtype)
"""
HONEST_UNUSUAL = {
    "module-with-super-init": (
        {
            "rope_interleaved": "class InterleavedRope(torch.nn.Module):\n"
            "    def __init__(self, base=10000.0):\n        super().__init__()\n"
            "        self.base = base\n    def forward(self, x, positions):\n"
            "        base = self.base\n"
            + "\n".join("    " + line for line in _BODY.splitlines())
            + "\ndef rope_interleaved(x, positions, base=10000.0):\n"
            "    return InterleavedRope(base)(x, positions)\n"
        },
        "",
    ),
    "own-rotate-half": (
        {
            "rope_half": "def rotate_half(x):\n    x1, x2 = x.chunk(2, dim=-1)\n"
            "    return torch.cat((-x2, x1), dim=-1)\ndef rope_half(x, positions, base=10000.0):\n"
            "    d = x.shape[-1]\n"
            "    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)\n"
            "    angles = positions.to(torch.float64)[:, None] * theta\n"
            "    angles = torch.cat((angles, angles), dim=-1)\n    x64 = x.double()\n"
            "    return (x64 * angles.cos() + rotate_half(x64) * angles.sin()).to(x.dtype)\n"
        },
        "",
    ),
    "scratch-cell-with-library": (
        {},
        "from course_lib import rope_cos_sin\ncos, sin = rope_cos_sin(torch.arange(4), 8)\n"
        "print(cos[:, ::2])\n",
    ),
    "plot-settings": (
        {},
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "plt.rcParams['figure.figsize'] = (6, 4)\n",
    ),
    "type-name-in-message": (
        {
            "rope_interleaved": "def rope_interleaved(x, positions, base=10000.0):\n"
            "    if not isinstance(x, torch.Tensor):\n"
            "        raise TypeError(f'x must be a tensor, got {type(x).__name__}')\n" + _BODY
        },
        "",
    ),
}


def _release(name):
    return nbformat.read(ROOT / "exercises" / name / f"{name}.ipynb", as_version=4)


def _source(name):
    return nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)


def _with_attack(name: str, attack: str, answers: dict[str, str]):
    """The released notebook answered by ``answers`` (instructor's answers for the rest), plus an
    extra cell with the attack placed right after the set-up cell, as a student would add one."""
    nb = filled_in(_release(name), _source(name), answers)
    setup = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "setup")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(attack))
    return nb


def ch01_class() -> dict[str, tuple[str, object, float]]:
    """student -> (file name, notebook, the score its honest work deserves)."""
    honest = filled_in(_release(CH01), _source(CH01))
    blank = {"append_position": "def append_position(x):\n    raise NotImplementedError()",
             "row_entropy": WRONG_ENTROPY, "logit_growth": WRONG_GROWTH,
             "cosine_after_layernorm": WRONG_COSINE}
    cases = {"aaa-honest": (f"{CH01}.ipynb", honest, 10)}
    for group in (FORGE, SPY, SABOTAGE):
        for label, attack in group.items():
            cases[f"attack-{label}"] = (f"{CH01}.ipynb", _with_attack(CH01, attack, blank), 0)
    # The same attacks beside real work keep exactly that work's points.
    # (its setattr/globals() also break the notebook-wide reflection rule, which costs the by-hand
    # append_position its 2 points: 5 of the 7 the answers alone would earn)
    cases["attack-patch-checkers-with-work"] = (
        f"{CH01}.ipynb",
        _with_attack(CH01, FORGE["patch-checkers"], {"row_entropy": WRONG_ENTROPY}),
        5,
    )
    cases["attack-swallow-interrupts-with-work"] = (
        f"{CH01}.ipynb",
        _with_attack(CH01, "", {"logit_growth": WRONG_GROWTH + SABOTAGE["swallow-interrupts"]}),
        8,
    )
    forged = _with_attack(CH01, FORGED_REPORT, {})
    cases["attack-forge-report"] = (f"{CH01}.ipynb", forged, 10)
    flood = _with_attack(CH01, "", blank)
    flood.cells[1:1] = [nbformat.v4.new_code_cell(MANY_ERRORS) for _ in range(500)]
    cases["attack-error-flood"] = (f"{CH01}.ipynb", flood, 0)
    # An honest bug: append_position hangs on one hidden length, beside two slow cells. The hang
    # costs its test; restarting (and re-running the slow cells) is not charged to the tests after
    # it.
    hang_once = _with_attack(
        CH01,
        "import time\ntime.sleep(4)",
        {
            "append_position": "def append_position(x):\n    batch, seq, _ = x.shape\n"
            "    while seq == 50:\n        pass\n"
            "    positions = torch.arange(seq, dtype=x.dtype)[None, :, None].expand(batch, seq, "
            "1)\n    return torch.cat([x, positions], dim=-1)\n"
        },
    )
    cases["honest-hangs-once"] = (f"{CH01}.ipynb", hang_once, 8)
    cases["zzz-honest"] = (f"{CH01}.ipynb", honest, 10)
    return cases


def _graded_as_deserved(chapter: str, cases: dict, tmp_path: Path, timeout: float) -> None:
    """Grade every case (student -> (notebook, deserved score)) as one class of ``chapter``; each
    student scores exactly what they deserve and no sandbox process is left running."""
    submissions = tmp_path / "submitted"
    for student, (nb, _) in cases.items():
        (submissions / student / chapter).mkdir(parents=True)
        nbformat.write(nb, submissions / student / chapter / f"{chapter}.ipynb")
    scores = csv_scores(grade(chapter, submissions, tmp_path / "out", timeout=timeout, jobs=2))
    wrong = {
        s: (scores.get(s), expected)
        for s, (_, expected) in cases.items()
        if scores.get(s) != expected
    }
    assert not wrong, f"student: (score, deserved) — {wrong}"
    assert not _sandbox_processes()


def _sandbox_processes() -> list[str]:
    """Processes still running as a sandbox uid that no grader holds (other tests may be grading
    right now: a uid in use is locked by its harness, see Sandbox.uid)."""
    import fcntl
    import tempfile

    by_uid: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = int((entry / "status").read_text().split("Uid:")[1].split()[0])
            except (OSError, IndexError, ValueError):
                continue
            if SANDBOX_UID_BASE <= uid < SANDBOX_UID_BASE + SANDBOX_UID_COUNT:
                by_uid.setdefault(uid, []).append(entry.name)
    left = []
    for uid, pids in by_uid.items():
        with open(Path(tempfile.gettempdir()) / "course-grading-uids" / f"{uid}.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue                              # a grader is using this uid now
            alive = [p for p in pids if Path("/proc", p).exists()]
            left += [f"{p} (uid {uid})" for p in alive]
    return left


def _assert_no_leaks(out: Path, assignment: str, no_work: set[str]) -> None:
    """No hidden-test line in any feedback page or log; no solution line in the pages of students
    who wrote none (the others' pages rightly show their own code)."""
    hidden = hidden_test_lines(assignment)
    solution_lines = [
        line.strip()
        for c in _source(assignment).cells
        if nbgrader_meta(c).get("solution")
        for line in c.source.split("### BEGIN SOLUTION")[-1]
        .split("### END SOLUTION")[0]
        .splitlines()
        if len(line.strip()) >= 30
    ]
    for page in list((out / "feedback").rglob("*.html")) + list((out / "logs").rglob("*.txt")):
        text = page.read_text(encoding="utf-8", errors="replace")
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page.relative_to(out)} shows hidden-test code: {leaked[:2]}"
        if page.stem in no_work or page.parent.parent.name in no_work:
            copied = [line for line in solution_lines if line in text]
            assert not copied, (
                f"{page.relative_to(out)} shows the instructor's solution: {copied[:2]}"
            )


@pytest.fixture(scope="module")
def sandbox_available():
    problem = Sandbox().problem()
    # .ci/run installs bubblewrap; the attack corpus must run in CI
    assert problem is None, problem
    assert os.geteuid() == 0, "the attack corpus runs as root in CI (sandbox users per student)"


def test_attackers_get_only_what_their_honest_work_deserves_and_hurt_nobody(
    tmp_path, sandbox_available
):
    cases = ch01_class()
    submissions = tmp_path / "submitted"
    for student, (file_name, nb, _) in cases.items():
        submit(tmp_path, CH01, student, nb, file_name)
    # A student whose folder name is not valid UTF-8 (seen in real LMS downloads).
    odd = os.fsencode(str(submissions)) + b"/odd-\xff-name"
    os.makedirs(odd + CH01.encode())
    nbformat.write(
        cases["aaa-honest"][1], os.fsdecode(odd + CH01.encode() + b"/" + f"{CH01}.ipynb".encode())
    )
    before = fingerprint(submissions)

    csv_path = grade(CH01, submissions, tmp_path / "out", timeout=TIMEOUT, jobs=2)

    assert fingerprint(submissions) == before, "a submission was modified"
    scores = csv_scores(csv_path)
    assert len(scores) == len(cases) + 1, f"one CSV row per student: {sorted(scores)}"
    wrong = {
        s: (scores.get(s), expected)
        for s, (_, _, expected) in cases.items()
        if scores.get(s) != expected
    }
    assert not wrong, f"student: (score, deserved) — {wrong}"
    odd_id = next(s for s in scores if s.startswith("odd-"))
    assert scores[odd_id] == 10
    report = (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    for student in scores:
        assert f"{student}: " in report, f"{student} missing from the report"
    assert not _sandbox_processes(), f"left running: {_sandbox_processes()}"
    lines = report.splitlines()
    assert not any(line.startswith("zzz-honest: 0 / 10") for line in lines), (
        "a student forged a report line"
    )
    # sandboxed, with control groups
    assert not any(line.startswith("WARNING") for line in lines), lines[:2]
    assert len(report) < 100_000, f"report.txt is {len(report)} characters"
    flood_page = tmp_path / "out" / "feedback" / "attack-error-flood" / CH01 / f"{CH01}.html"
    assert flood_page.stat().st_size < 200_000
    _assert_no_leaks(
        tmp_path / "out", CH01, {s for s, (_, _, deserved) in cases.items() if deserved == 0}
    )


def test_by_hand_rules_cannot_be_evaded(tmp_path, sandbox_available):
    honest = filled_in(_release(CH05), _source(CH05))
    points = points_per_test(CH05)
    total = sum(points.values())
    without_ex1 = total - points["test_rope_interleaved"]
    without_by_hand = without_ex1 - points["test_rope_half"]
    cases = {"honest": (honest, total)}
    # Exercise 1 is lost; reflection anywhere in the notebook also costs by-hand exercise 2.
    reflective = (
        "getattr",
        "eval",
        "importlib",
        "sys-modules",
        "wrapped-dunder",
        "operator",
        "pydoc-locate",
        "cell-magic",
        "global-in-function",
        "match-alias",
        "forged-names-reply",
    )
    for label, answer in BY_HAND.items():
        cases[f"by-hand-{label}"] = (
            filled_in(_release(CH05), _source(CH05), {"rope_interleaved": answer}),
            without_by_hand if label in reflective else without_ex1,
        )
    for label, (answer, extra) in BY_HAND_WITH_EXTRA_CELL.items():
        cases[f"by-hand-{label}"] = (_with_attack(CH05, extra, {"rope_interleaved": answer}),
                                     without_by_hand if label in reflective else without_ex1)
    for label, (answers, extra) in HONEST_UNUSUAL.items():
        cases[f"honest-{label}"] = (_with_attack(CH05, extra, answers), total)
    _graded_as_deserved(CH05, cases, tmp_path, timeout=TIMEOUT)


# ---- chapter 06: the same rule for T5's bucket (exercise 1) and ALiBi's slopes (exercise 2), which
# HF transformers also ships under other names (LayoutLM's and CPM-Ant's buckets, MPT's ALiBi:
# before the hidden tests banned those names, each scored full marks) and which the chapter's widget
# computes (relative_positions_view: course_lib.explorers is not in the library names, but the
# library functions it calls are recorded at run time).
CH06 = "06_relative_positions"
_T5_DEF = ("def t5_bucket(relative_position, bidirectional=True, num_buckets=32, "
           "max_distance=128):\n")
_T5_ARGS = "relative_position, bidirectional, num_buckets, max_distance"
_SLOPES_DEF = "def alibi_slopes_by_hand(num_heads):\n"


def _t5(imports: str, body: str) -> tuple[str, str, str]:
    return ("t5_bucket", imports + _T5_DEF + body, "")


def _slopes(imports: str, body: str) -> tuple[str, str, str]:
    return ("alibi_slopes_by_hand", imports + _SLOPES_DEF + body, "")


# label -> (cell, answer, extra cell placed after the set-up cell)
BY_HAND_06 = {
    "t5-alias": _t5("from course_lib import t5_relative_position_bucket as buckets\n",
                    f"    return buckets({_T5_ARGS})\n"),
    "t5-wrapper-class": _t5(
        "from course_lib import T5RelativeBias\n",
        "    span = int(relative_position.abs().max()) + 1\n"
        "    model = T5RelativeBias(1, num_buckets, max_distance, bidirectional)\n"
        "    with torch.no_grad():\n"
        "        model.bias.weight.copy_(torch.arange(num_buckets, dtype=torch.float32)[:, None])\n"
        "        table = model.attention_bias(span)[0, 0]\n"
        "    lookup = torch.cat((table[:, 0].flip(0), table[0, 1:]))\n"
        "    return lookup[relative_position + span - 1].long()\n",
    ),
    "t5-hf-private": _t5("from transformers.models.t5.modeling_t5 import T5Attention as Hf\n",
                         f"    return Hf._relative_position_bucket({_T5_ARGS})\n"),
    "t5-hf-layoutlmv2-copy": _t5(
        "from transformers.models.layoutlmv2.modeling_layoutlmv2 import "
        "relative_position_bucket as copied\n",
        f"    return copied({_T5_ARGS})\n",
    ),
    "t5-hf-layoutlmv3-method": _t5(
        "from transformers.models.layoutlmv3 import modeling_layoutlmv3 as m\n",
        f"    return m.LayoutLMv3Encoder.relative_position_bucket(None, {_T5_ARGS}).long()\n",
    ),
    "t5-hf-cpmant-private": _t5(
        "from transformers.models.cpmant.modeling_cpmant import "
        "CpmAntSegmentPositionEmbedding as Cpm\n",
        "    if bidirectional:\n"
        "        return Cpm._position_bucket(None, relative_position, num_buckets,\n"
        "                                    max_distance).long()\n"
        "    far = Cpm._position_bucket(None, -relative_position.clamp(max=0), 2 * num_buckets,\n"
        "                               max_distance)\n"
        "    return (far - num_buckets * (far >= num_buckets)).long()\n",
    ),
    "t5-explorer-view": _t5(
        "from course_lib.explorers.relative_positions import relative_positions_view as view\n",
        "    shown = view(offset=int(relative_position.abs().max()), num_buckets=num_buckets,\n"
        "                 max_distance=max_distance)\n"
        "    kind = 'buckets_bidirectional' if bidirectional else 'buckets_causal'\n"
        "    reach = (len(shown['offsets']) - 1) // 2\n"
        "    return shown[kind][relative_position + reach]\n",
    ),
    "t5-getattr": _t5("import course_lib\n",
                      "    find = getattr(course_lib, 't5_relative_' + 'position_bucket')\n"
                      f"    return find({_T5_ARGS})\n"),
    "t5-eval": _t5("import course_lib\n",
                   "    find = eval('course_lib.t5_relative' + '_position_bucket')\n"
                   f"    return find({_T5_ARGS})\n"),
    "t5-importlib": _t5(
        "import importlib\n",
        "    module = importlib.import_module('transformers.models.t5.modeling_t5')\n"
        "    hf = module.__dict__['T5Att' + 'ention']\n"
        f"    return hf.__dict__['_relative_position_' + 'bucket']({_T5_ARGS})\n",
    ),
    "t5-operator": _t5(
        "import operator\nfrom transformers.models.layoutlmv2 import modeling_layoutlmv2 as m\n"
        "find = operator.attrgetter('relative_' + 'position_bucket')\n",
        f"    return find(m)({_T5_ARGS})\n",
    ),
    "slopes-alias": _slopes("from course_lib import alibi_slopes as slopes\n",
                            "    return slopes(num_heads)\n"),
    "slopes-wrapper-class": _slopes("from course_lib import ALiBiPositions\n",
                                    "    return ALiBiPositions(num_heads).slopes.clone()\n"),
    "slopes-from-bias": _slopes("import course_lib as cl\n",
                                "    return -cl.alibi_bias(num_heads, 2)[:, 0, 1].float()\n"),
    "slopes-explorer-view": _slopes(
        "from course_lib.explorers.relative_positions import relative_positions_view\n",
        "    return relative_positions_view(num_heads=num_heads)['slopes']\n",
    ),
    "slopes-hf-bloom-private": _slopes(
        "from transformers.models.bloom.modeling_bloom import _get_alibi_slopes as hf_slopes\n",
        "    return hf_slopes(num_heads, torch.device('cpu'))\n",
    ),
    "slopes-hf-bloom-tensor": _slopes(
        "from transformers.models.bloom.modeling_bloom import build_alibi_tensor as alibi\n",
        "    return alibi(torch.ones(1, 2), num_heads, torch.float32)[:, 0, 1]\n",
    ),
    "slopes-hf-mpt-tensor": _slopes(
        "from transformers.models.mpt.modeling_mpt import build_mpt_alibi_tensor as mpt\n",
        "    return -mpt(num_heads, 2)[:, 0, 0]\n",
    ),
    "slopes-pydoc-locate": _slopes(
        "import pydoc\n",
        "    return pydoc.locate('course_lib.alibi' + '_slopes')(num_heads)\n",
    ),
    "slopes-global-in-function": _slopes(
        "def prepare():\n    global ladder\n    from course_lib import alibi_slopes as ladder\n"
        "prepare()\n",
        "    return ladder(num_heads)\n",
    ),
}
REFLECTIVE_06 = {"t5-getattr", "t5-eval", "t5-importlib", "t5-operator", "slopes-pydoc-locate"}

# Honest answers that read like rule-breaking to a careless reader: both must score 10.
HONEST_06 = {
    # the student's own helper, named like the HF copy that is banned
    "own-helper-named-like-hf": (
        "t5_bucket",
        "def relative_position_bucket(distance, n, max_exact, max_distance):\n"
        "    far = torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact)\n"
        "    far = (max_exact + (far * (n - max_exact)).long()).clamp(max=n - 1)\n"
        "    return torch.where(distance < max_exact, distance, far)\n"
        + _T5_DEF
        + "    n = num_buckets // 2 if bidirectional else num_buckets\n"
        "    if bidirectional:\n"
        "        side, distance = (relative_position > 0).long() * n, relative_position.abs()\n"
        "    else:\n"
        "        side, distance = 0, (-relative_position).clamp(min=0)\n"
        "    return side + relative_position_bucket(distance, n, n // 2, max_distance)\n",
        "",
    ),
    # the ALiBi paper's own code, and a scratch cell that looks at the library's answers
    "papers-get-slopes-and-scratch-library-cell": (
        "alibi_slopes_by_hand",
        "def get_slopes(n):\n"
        "    def get_slopes_power_of_2(n):\n"
        "        start = 2 ** (-2 ** -(math.log2(n) - 3))\n"
        "        return [start * start ** i for i in range(n)]\n"
        "    if math.log2(n).is_integer():\n"
        "        return get_slopes_power_of_2(n)\n"
        "    closest = 2 ** math.floor(math.log2(n))\n"
        "    return get_slopes_power_of_2(closest) + get_slopes(2 * closest)[0::2][: n - closest]\n"
        + _SLOPES_DEF
        + "    return torch.tensor(get_slopes(num_heads), dtype=torch.float32)\n",
        "from course_lib import alibi_slopes, t5_relative_position_bucket as reference\n"
        "print(alibi_slopes(12), reference(torch.arange(-3, 4)))\n",
    ),
}


def test_by_hand_rules_cannot_be_evaded_in_chapter_06(tmp_path, sandbox_available):
    points = points_per_test(CH06)
    total = sum(points.values())
    lost = {"t5_bucket": points["test_t5_bucket"],
            "alibi_slopes_by_hand": points["test_alibi_slopes_by_hand"]}
    cases = {"honest": (filled_in(_release(CH06), _source(CH06)), total)}
    for label, (cell, answer, extra) in BY_HAND_06.items():
        # reflection anywhere in the notebook costs both by-hand exercises
        deserved = total - (sum(lost.values()) if label in REFLECTIVE_06 else lost[cell])
        cases[f"by-hand-{label}"] = (_with_attack(CH06, extra, {cell: answer}), deserved)
    for label, (cell, answer, extra) in HONEST_06.items():
        cases[f"honest-{label}"] = (_with_attack(CH06, extra, {cell: answer}), total)
    # exercise 4 makes 376 hidden calls: ten seconds a cell is tight on a shared machine
    _graded_as_deserved(CH06, cases, tmp_path, timeout=60)
