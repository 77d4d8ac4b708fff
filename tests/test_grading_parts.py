"""The grading sandbox's parts, each on its own claim: values cross the wall as data and come back
equal; the by-hand reader catches every route around a banned function and passes honest code; the
sandbox hides the repository, the network and other processes; the run-time record sees a wrapped
call."""

from __future__ import annotations

import os
import time

import pytest
import torch
from nbgrader_course import ROOT

from course_lib.grading import by_hand
from course_lib.grading.harness import _rebuilt_exception
from course_lib.grading.sandbox import Sandbox, Session, StudentCrash, StudentTimeout
from course_lib.grading.wire import WireError, decode, encode

# --- wire -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.bool,
    ],
)
def test_every_tensor_dtype_round_trips_bit_for_bit(dtype):
    x = (torch.randn(3, 4, dtype=torch.complex128) * 50).to(dtype) if dtype.is_complex else \
        (torch.randn(3, 4, dtype=torch.float64) * 50).to(dtype)
    back = decode(encode(x))
    assert back.dtype == dtype and back.shape == x.shape
    assert torch.equal(back.view(torch.uint8) if dtype != torch.bool else back, x.view(torch.uint8)
                       if dtype != torch.bool else x)


def test_views_sparse_and_nested_values_round_trip():
    x = torch.arange(12.0).reshape(3, 4).T[1:]              # a non-contiguous view
    assert torch.equal(decode(encode(x)), x)
    assert torch.equal(decode(encode(torch.eye(3).to_sparse())), torch.eye(3))
    value = {"a": [1, 2.5, None, True, "s", (torch.zeros(0, 2), complex(1, -2))], 3: torch.float64}
    back = decode(encode(value))
    assert back["a"][:5] == [1, 2.5, None, True, "s"] and back[3] is torch.float64
    assert back["a"][5][0].shape == (0, 2) and back["a"][5][1] == complex(1, -2)
    assert decode(encode(float("nan"))) != decode(encode(float("nan")))         # nan stays nan


def test_what_is_not_data_is_refused():
    with pytest.raises(WireError, match="cannot be graded"):
        encode(object())
    with pytest.raises(WireError, match="too large"):
        encode(10 ** 100)
    nested: list = []
    for _ in range(40):
        nested = [nested]
    with pytest.raises(WireError, match="nested"):
        encode(nested)
    forged = encode(torch.zeros(2, 2))
    forged["tensor"]["shape"] = [1000, 1000]                  # claims more bytes than it carries
    with pytest.raises(WireError, match="needs"):
        decode(forged)
    with pytest.raises(WireError, match="unexpected value tag"):
        # only the side that accepts handles decodes them
        decode({"handle": 3})


def test_a_student_exception_is_rebuilt_as_data_and_never_as_a_system_exit():
    error = _rebuilt_exception(
        {"type": "ValueError", "base": "ValueError", "message": "too long"}, "f"
    )
    assert isinstance(error, ValueError) and str(error) == "too long"
    for base in (
        "SystemExit",
        "KeyboardInterrupt",
        "BaseException",
        "GeneratorExit",
        "not a class",
        "print",
    ):
        error = _rebuilt_exception({"type": "x y", "base": base, "message": ""}, "f")
        assert isinstance(error, Exception) and not isinstance(
            error, (SystemExit, KeyboardInterrupt)
        )


# --- by hand ----------------------------------------------------------------------
BANNED = {"apply_rope", "RotaryPositions"}
LIBRARY = {
    "apply_rope",
    "RotaryPositions",
    "offset_rotation",
    "rope_cos_sin",
    "rotate_half",
    "causal_mask",
    "train",
}
HONEST = '''
import math
import torch
import matplotlib.pyplot as plt
from fractions import Fraction
from course_lib import rope_cos_sin

plt.rcParams["figure.figsize"] = (6, 4)
# exploring the library in a scratch cell is fine
cos, sin = rope_cos_sin(torch.arange(4), 8)

def rotate_half(x):                                   # the student's own helper, named like HF's
    return torch.cat((-x[..., x.shape[-1] // 2:], x[..., : x.shape[-1] // 2]), dim=-1)

def _angles(positions, d, base):
    """Like apply_rope, but written out: theta_i = base ** (-2i/d)."""
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    return positions.double()[:, None] * theta

class Pairs(torch.nn.Module):
    def __init__(self, x):
        super().__init__()
        self._x = x

def rope_interleaved(x, positions, base=10000.0):
    # not apply_rope: the rotation by hand
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    a = _angles(positions, x.shape[-1], base)
    cos, sin = a.cos(), a.sin()
    causal_mask = None                                # a local that shares a library name
    p = Pairs(x)
    out = torch.empty_like(p._x, dtype=torch.float64)
    out[:, 0::2] = x[:, 0::2] * cos - x[:, 1::2] * sin
    out[:, 1::2] = x[:, 0::2] * sin + x[:, 1::2] * cos
    return out.to(x.dtype)

def rope_half(x, positions, base=10000.0):
    return x * 0 + rotate_half(x)

def rope_attention(q, k, v, positions):
    return apply_rope(q, positions)      # another exercise may use the library
'''


def test_honest_code_passes_even_when_it_mentions_the_banned_name_in_comments_and_docstrings():
    cells = [
        "%matplotlib inline\n" + HONEST,
        "%time rope_interleaved(torch.ones(2, 4), torch.arange(2))",
    ]
    assert by_hand.violations(cells, "rope_interleaved", BANNED, LIBRARY) == []
    assert by_hand.violations(cells, "rope_half", BANNED, LIBRARY) == []


@pytest.mark.parametrize(
    "cells, expected",
    [
        (["def f(x):\n    return apply_rope(x)"], "uses `apply_rope`"),
        (
            ["from course_lib import apply_rope as r\ndef f(x):\n    return r(x)"],
            "imports `apply_rope`",
        ),
        (
            ["import course_lib\nturn = course_lib.apply_rope\n", "def f(x):\n    return turn(x)"],
            "uses `apply_rope`",
        ),
        (
            [
                "def helper(x):\n    return RotaryPositions(4).rotate(x)\ndef f(x):\n"
                "    return helper(x)"
            ],
            "uses `RotaryPositions`",
        ),
        (
            ["import course_lib as cl\ndef f(x):\n    return x @ cl.offset_rotation(1, 4)"],
            "uses `offset_rotation`",
        ),
        (
            [
                "from course_lib import offset_rotation\ndef f(x):\n"
                "    return x @ offset_rotation(1, 4)"
            ],
            "imports `offset_rotation`",
        ),
        (
            ["import course_lib\ndef f(x):\n    return getattr(course_lib, 'apply_' + 'rope')(x)"],
            "reflection",
        ),
        (["def f(x):\n    return eval('apply' + '_rope')(x)"], "reflection"),
        (["def f(x):\n    return f.__globals__['apply_rope'](x)"], "__globals__"),
        (
            ["import importlib\ndef f(x):\n    return importlib.import_module('course_lib').x(x)"],
            "imports `importlib`",
        ),
        (
            ["import pydoc\ndef f(x):\n    return pydoc.locate('course_lib.y')(x)"],
            "imports `pydoc`",
        ),
        (["import torch\ndef f(x):\n    return torch._C._nn.gelu(x)"], "private attribute"),
        (["def f(x):\n    return run('apply_rope', x)"], "in a string"),
        (
            ["import torch\ntorch.sin = lambda t: t\ndef f(x):\n    return torch.sin(x)"],
            "changes a library",
        ),
        (["from course_lib.rope import *\ndef f(x):\n    return x"], "import *"),
        # routes a first reviewer found (the reader followed names only)
        (
            ["%%capture\nfrom course_lib import apply_rope\ndef f(x):\n    return apply_rope(x)"],
            "apply_rope",
        ),
        (
            [
                "def prepare():\n    global turn\n    from course_lib import apply_rope as turn\n"
                "prepare()",
                "def f(x):\n    return turn(x)",
            ],
            "imports `apply_rope`",
        ),
        (
            [
                "import course_lib\nmatch course_lib:\n    case object(apply_rope=turn):\n"
                "        pass",
                "def f(x):\n    return turn(x)",
            ],
            "`apply_rope` out of a library",
        ),
        (
            [
                "import course_lib\nG = course_lib.rope.apply_rope.__globals__\nG['_State'] = None",
                "def f(x):\n    return x",
            ],
            "__globals__",
        ),
        (
            [
                "ip = get_ipython()\nip.user_ns['f'] = ip.user_ns['apply_rope']",
                "def f(x):\n    return x",
            ],
            "user_ns",
        ),
        # `sys` is allowed for printing only
        (
            ["import sys\ndef f(x):\n    return sys.modules['course_lib'].apply_rope(x)"],
            "imports `sys`",
        ),
        (
            ["import sys\nprint('hi', file=sys.stderr)\nm = sys\ndef f(x):\n    return x"],
            "imports `sys`",
        ),
        (["import sys as s\nsys = s\ndef f(x):\n    return vars(sys)"], "imports `sys`"),
        (["import sys\nsys.stderr = None\ndef f(x):\n    return x"], "imports `sys`"),
        (
            ["from sys import modules\ndef f(x):\n    return modules['course_lib'].apply_rope(x)"],
            "imports `sys`",
        ),
    ],
)
def test_each_route_around_a_banned_function_is_named(cells, expected):
    problems = by_hand.violations(cells, "f", BANNED, LIBRARY)
    assert any(expected in p for p in problems), problems


def test_printing_to_stderr_is_not_reflection():
    cells = ["import sys\nfrom sys import stdout\ndef f(x):\n    print('called', file=sys.stderr)\n"
             "    print(sys.version_info >= (3, 10), file=stdout)\n    return x"]
    assert by_hand.violations(cells, "f", BANNED, LIBRARY) == []


def test_a_function_whose_code_is_not_in_the_notebook_cannot_be_checked_and_fails():
    assert "not in the notebook" in by_hand.violations(["x = 1"], "f", BANNED, LIBRARY)[0]


# --- the sandbox ------------------------------------------------------------------
needs_sandbox = pytest.mark.skipif(Sandbox().problem() is not None and not os.environ.get("CI"),
                                   reason="bubblewrap is not available here (CI installs it)")


def _session(cells, timeout=20.0):
    session = Session(
        Sandbox(), [(f"cell {i}", c) for i, c in enumerate(cells)], cell_timeout=timeout
    )
    session.start()
    return session


def _call(session, name, *args, timeout=20.0):
    return session.request({"op": "call", "target": {"name": name}, "args": encode(list(args)),
                            "kwargs": encode({})}, deadline=time.monotonic() + timeout)


@needs_sandbox
def test_the_sandbox_sees_no_repository_no_network_and_no_other_process():
    probe = f'''
import os, socket
def look():
    seen = {{}}
    seen["solutions"] = os.path.exists({str(ROOT / "solutions")!r})
    seen["tests"] = os.path.exists({str(ROOT / "tests")!r})
    seen["home"] = os.path.exists(os.path.expanduser("~root/.bash_history"))
    seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    seen["uid"] = os.getuid()
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=1)
        seen["network"] = True
    except OSError:
        seen["network"] = False
    try:
        open({str(ROOT / "course_lib" / "x")!r}, "w")
        seen["writable"] = True
    except OSError:
        seen["writable"] = False
    return seen
'''
    session = _session([probe])
    try:
        seen = decode(_call(session, "look")["value"])
    finally:
        session.close()
    assert not seen["solutions"] and not seen["tests"] and not seen["home"]
    assert not seen["network"] and not seen["writable"]
    assert max(seen["processes"]) < 10, seen["processes"]             # only the sandbox's own
    if os.geteuid() == 0:
        assert seen["uid"] >= 61000


@needs_sandbox
def test_a_library_call_inside_a_student_function_is_recorded_even_through_a_wrapper_class():
    session = _session(
        [
            "from course_lib import RotaryPositions\ndef f(x):\n"
            "    return RotaryPositions(4).rotate(x, x, __import__('torch').arange(2))[0]\n"
            "def g(x):\n    return x * 2\n"
        ]
    )
    try:
        x = torch.randn(1, 1, 2, 4)
        reply = _call(session, "f", x)
        assert "value" in reply, reply
        # the class, and the library function its constructor calls in turn
        assert {"RotaryPositions", "rope_inv_freq"} <= set(reply["library_calls"])
        assert _call(session, "g", x)["library_calls"] == []
    finally:
        session.close()


@needs_sandbox
def test_a_cell_that_hangs_is_killed_and_skipped_and_the_rest_still_loads():
    session = _session(
        ["def a():\n    return 1", "while True:\n    pass", "def b():\n    return 2"], timeout=3
    )
    try:
        assert "did not finish" in session.cell_errors["cell 1"]
        assert (
            decode(_call(session, "a")["value"]) == 1 and decode(_call(session, "b")["value"]) == 2
        )
        session.program.append(("cell 3", "def hang():\n    while True:\n        pass"))
        session.close()
        session.start()
        with pytest.raises(StudentTimeout):
            _call(session, "hang", timeout=2)
        # a fresh sandbox answers the next call
        assert decode(_call(session, "b")["value"]) == 2
    finally:
        session.close()


@needs_sandbox
def test_a_student_process_that_exits_is_a_crash_not_a_hang():
    session = _session(["import os\ndef die():\n    os._exit(3)"])
    try:
        with pytest.raises(StudentCrash):
            _call(session, "die")
    finally:
        session.close()


@needs_sandbox
def test_honest_oddities_come_back_as_the_student_meant_them():
    session = _session(["%matplotlib inline\nfrom fractions import Fraction\n"
                        "def growth(a, b):\n    return Fraction(b - 1, a - 1) ** 2\n"
                        "class OutOfRange(IndexError, ValueError):\n    pass\n"
                        "def lookup(n):\n    raise OutOfRange(f'{n} is past the end')\n"
                        "def huge():\n    return 2 ** 300\n"])
    try:
        assert "cell 0" not in session.cell_errors, session.cell_errors
        assert decode(_call(session, "growth", 3, 5)["value"]) == 4.0
        error = _rebuilt_exception(_call(session, "lookup", 7)["error"], "lookup")
        assert (
            isinstance(error, ValueError)
            and isinstance(error, IndexError)
            and "past the end" in str(error)
        )
        error = _rebuilt_exception(_call(session, "huge")["error"], "huge")
        # "unreadable" is not a ValueError
        assert not isinstance(error, ValueError) and "too large" in str(error)
    finally:
        session.close()


@needs_sandbox
def test_a_submission_shares_one_memory_and_cpu_budget_however_many_processes_it_forks():
    from course_lib.grading.sandbox import Limits

    forks = '''
import os, time
def hog(children, megabytes, seconds):
    """Fork children that each touch `megabytes` and spin for `seconds`; report how they ended
    and the CPU they used."""
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            block = bytearray(megabytes * 2**20)
            block[::4096] = b"x" * len(block[::4096])
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        pids.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    return [os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in statuses], os.times().children_user
'''
    session = Session(
        Sandbox(limits=Limits(memory=2 * 2**30)), [("cell 0", forks)], cell_timeout=60
    )
    session.start()
    try:
        if session.cgroup is None or session.cgroup.kind is None:
            pytest.skip("no control groups here (not root, or hidden by a container)")
        killed, _ = decode(_call(session, "hog", 3, 900, 0.5, timeout=60)["value"])
        assert any(killed), "three children of 900 MB each fit in a 2 GiB submission"
        killed, cpu_seconds = decode(_call(session, "hog", 4, 10, 2.0, timeout=60)["value"])
        assert not any(killed)
        assert cpu_seconds < 3.0, (
            f"4 busy children for 2 s used {cpu_seconds:.1f} CPU seconds (budget: 1 CPU)"
        )
    finally:
        session.close()


def test_a_grader_function_refuses_a_huge_argument_from_student_code():
    from course_lib.grading.harness import Grader

    reply = Grader._serve_callback(
        {"callback": 0, "args": encode([torch.zeros(3, 10000, 40)]), "kwargs": encode({})},
        {0: lambda t: t @ t.transpose(-1, -2)},
    )
    assert "at most" in reply["error"]["message"]
    reply = Grader._serve_callback(
        {"callback": 0, "args": encode([torch.ones(2, 3)]), "kwargs": encode({})},
        {0: lambda t: t.sum()},
    )
    assert decode(reply["value"]) == 6.0


@needs_sandbox
def test_restarting_after_a_hang_is_not_charged_to_the_next_call():
    session = _session(["import time\ntime.sleep(2)\ndef slow_start():\n    return 1",
                        "def hang():\n    while True:\n        pass"], timeout=10)
    try:
        with pytest.raises(StudentTimeout):
            _call(session, "hang", timeout=1)
        # the restart re-runs the 2 s cell; the call itself has only 1 s, and still gets its answer
        assert decode(_call(session, "slow_start", timeout=1)["value"]) == 1
    finally:
        session.close()


@pytest.mark.parametrize(
    "cells",
    [
        [
            "import torch.nn.functional as F\ndef f(q, k):\n"
            "    return F.scaled_dot_product_attention(q, k, k)"
        ],
        [
            "from torch.nn.functional import scaled_dot_product_attention as attend\n"
            "def f(q, k):\n    return attend(q, k, k)"
        ],
        ["import torch\ndef f(q, k):\n    return torch.nn.MultiheadAttention(4, 1)(q, k, k)[0]"],
    ],
)
def test_ready_made_torch_attention_counts_as_a_banned_stand_in(cells):
    banned = {"scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward"}
    assert by_hand.violations(cells, "f", banned, banned), cells


@needs_sandbox
def test_gradient_of_a_student_function_is_computed_in_the_sandbox():
    from course_lib import gradient_of
    from course_lib.grading.harness import Grader

    session = _session(["def lookup(x, table):\n    return x + table[: x.shape[1]]\n",
                        "def frozen(x, table):\n    return x + table[: x.shape[1]].detach()\n"])
    grader = Grader(session, [])
    namespace = {}
    try:
        grader.bind(["lookup", "frozen"], namespace)
        table = torch.randn(5, 3)
        out, grad = gradient_of(namespace["lookup"], torch.zeros(1, 2, 3), table, wrt=1)
        assert torch.allclose(out, table[:2][None])
        assert torch.equal(grad, torch.cat([torch.ones(2, 3), torch.zeros(3, 3)]))
        assert gradient_of(namespace["frozen"], torch.zeros(1, 2, 3), table, wrt=1)[1] is None
    finally:
        session.close()


@pytest.mark.parametrize(
    "cells, expected",
    [
        # a second reviewer's routes: imports inside blocks, names made "local" by a nested scope,
        # defaults, fork
        (
            [
                "if True:\n    from course_lib import apply_rope as spin\n",
                "def f(x):\n    [0 for spin in ()]\n    return spin(x)",
            ],
            "imports `apply_rope`",
        ),
        (
            [
                "import torch\nsdpa = torch.ops.aten.scaled_dot_product_attention\n",
                "def f(q, k):\n    g = lambda sdpa: 0\n    return sdpa(q, k, k)",
            ],
            "`.ops`",
        ),
        (
            ["from course_lib import apply_rope\ndef f(x, turn=apply_rope):\n    return turn(x)"],
            "imports `apply_rope`",
        ),
        (["import os\nif os.fork() == 0:\n    pass\n", "def f(x):\n    return x"], "`.fork`"),
        (["ip = get_ipython()\n", "def f(x):\n    return x"], "get_ipython"),
    ],
)
def test_routes_a_second_review_found_are_named(cells, expected):
    problems = by_hand.violations(cells, "f", BANNED, LIBRARY)
    assert any(expected in p for p in problems), problems


def test_ordinary_method_names_and_a_scratch_cell_replaced_by_an_own_helper_are_fine():
    cells = [
        "import json\nclass Cache:\n    def push(self, k):\n        self.k = k\n",
        "from course_lib import rope_cos_sin as theta\nconfig = json.loads('{}')\n",
        "def theta(d):\n    return 10000.0 ** (-torch.arange(0, d, 2) / d)\n",
        "def f(x, layer=None):\n    c = Cache()\n    c.push(x)\n"
        "    n = len(list(layer.modules())) if layer else 0\n"
        "    return x * theta(x.shape[-1]).sum() + n\n",
        "!echo done\n%time f(torch.ones(2, 4))",
    ]
    assert by_hand.violations(cells, "f", BANNED, LIBRARY) == []


@pytest.mark.parametrize(
    "cells",
    [
        # T5's bucket and ALiBi under names no ban list holds (found by an attacker on chapter 06)
        ["from transformers.models.layoutlmv2.modeling_layoutlmv2 import "
         "relative_position_bucket as rpb\ndef f(x):\n    return rpb(x)"],
        ["import transformers.models.mpt.modeling_mpt as mpt\n"
         "def f(x):\n    return mpt.build_mpt_alibi_tensor(x, 8)"],
        ["import transformers\ndef f(x):\n    return transformers.models.llama.modeling_llama"
         ".apply_rotary_pos_emb(x, x, x, x)[0]"],
        ["def helper(x):\n    from torchtune.modules import RotaryPositionalEmbeddings as R\n"
         "    return R(4)(x)\ndef f(x):\n    return helper(x)"],
    ],
)
def test_a_by_hand_function_may_not_reach_a_package_that_implements_it(cells):
    problems = by_hand.violations(cells, "f", BANNED, LIBRARY)
    assert any("implements this for you" in p for p in problems), problems


def test_a_scratch_cell_may_compare_against_transformers():
    cells = ["from transformers.models.t5.modeling_t5 import T5Attention\n"
             "reference = T5Attention._relative_position_bucket",
             "def f(x):\n    return x.abs()",
             "assert f(torch.ones(1)) is not None and reference is not None"]
    assert by_hand.violations(cells, "f", BANNED, LIBRARY) == []
