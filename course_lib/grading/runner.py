"""The only process that runs a student's code: inside the sandbox, it executes the
notebook's cells and answers the grader's calls with plain data.

    python -I -m course_lib.grading.runner --reply-fd N

Requests arrive as frames on stdin; replies leave on fd N (see ``wire``). The
student's own prints go to stdout/stderr, which the grader keeps for the
instructor's log and never parses. Nothing here decides a score: the grader
compares the values it gets back, in a process that never runs student code.
A student who patches this module can only change the values it reports about
their own answers.

Requests:  {"op": "exec", "source": ...}            run one cell (IPython, so magics work)
           {"op": "names", "names": [...]}          what each name is: missing, callable or a value
           {"op": "call", "target": {...}, "args": ..., "kwargs": ...}
           {"op": "getattr", "target": {...}, "attr": name}
While a call runs, the runner may send {"callback": id, "args", "kwargs"} and wait for {"value"}
or {"error"}. Each call's reply lists the watched library functions that ran during it
(``library_calls``), so the grader can tell whether a "write it yourself" exercise called the
library after all.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import os
import pkgutil
import sys

from course_lib.grading.wire import (
    WireError,
    decode,
    encode,
    frame_length,
    parse_frame,
    write_frame,
)

# Ready-made equivalents in torch that a by-hand attention exercise must not call.
TORCH_WATCHED_FUNCTIONS = ("scaled_dot_product_attention", "multi_head_attention_forward")
TORCH_WATCHED_CLASSES = (
    "MultiheadAttention",
    "Transformer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
)
# course_lib modules that are tools, not course content: never watched.
UNWATCHED_MODULES = (
    "course_lib.checkers",
    "course_lib.grade",
    "course_lib.grading",
    "course_lib.explorers",
    "course_lib.plotting",
    "course_lib._validation",
)


class _State:
    calling = False
    library_calls: set[str] = set()


def _watch_function(fn, label: str):
    @functools.wraps(fn)
    def watched(*args, **kwargs):
        if _State.calling:
            _State.library_calls.add(label)
        return fn(*args, **kwargs)
    return watched


def _watch_class(cls, label: str) -> None:
    original = cls.__dict__.get("__init__")

    if original is not None:
        def __init__(self, *args, **kwargs):
            if _State.calling:
                _State.library_calls.add(label)
            original(self, *args, **kwargs)
    else:
        def __init__(self, *args, **kwargs):
            if _State.calling:
                _State.library_calls.add(label)
            super(cls, self).__init__(*args, **kwargs)
    cls.__init__ = __init__


def install_watches() -> None:
    """Wrap every course_lib function and class (and torch's ready-made attention) so calls are
    recorded."""
    import torch
    import torch.nn.functional as F

    import course_lib

    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        if not info.name.startswith(UNWATCHED_MODULES):
            importlib.import_module(info.name)
    modules = [
        m
        for name, m in list(sys.modules.items())
        if (name == "course_lib" or name.startswith("course_lib."))
        and not name.startswith(UNWATCHED_MODULES)
    ]
    wrappers = {}
    for module in modules:
        for attr, obj in list(vars(module).items()):
            if getattr(obj, "__module__", None) != module.__name__ or attr.startswith("_"):
                continue
            if inspect.isfunction(obj):
                wrappers[id(obj)] = _watch_function(obj, attr)
            elif inspect.isclass(obj):
                _watch_class(obj, attr)
    # re-exports (course_lib.apply_rope) point at the wrapper too
    for module in modules:
        for attr, obj in list(vars(module).items()):
            if id(obj) in wrappers:
                setattr(module, attr, wrappers[id(obj)])
    for name in TORCH_WATCHED_FUNCTIONS:
        original = getattr(F, name)
        setattr(F, name, _watch_function(original, name))
        for module in (torch, getattr(torch._C, "_nn", None)):
            if module is not None and getattr(module, name, None) is original:
                try:
                    setattr(module, name, getattr(F, name))
                except (AttributeError, TypeError):
                    pass
    for name in TORCH_WATCHED_CLASSES:
        _watch_class(getattr(torch.nn, name), name)


def describe_error(error: BaseException) -> dict:
    """A student's exception as data: its type name, the nearest builtin exception it derives from,
    its message."""
    bases = [
        c.__name__
        for c in type(error).__mro__
        if c.__module__ == "builtins"
        and issubclass(c, Exception)
        and getattr(builtins, c.__name__, None) is c
    ]
    try:
        message = str(error)
    # a __str__ that raises is the student's problem, not ours
    except BaseException:
        message = "<the exception's message could not be read>"
    return {
        "type": type(error).__name__[:100],
        "base": (bases or ["Exception"])[0],
        "bases": bases[:8],
        "message": message[:2000],
    }


class Runner:
    def __init__(self, requests, replies):
        self.requests, self.replies = requests, replies
        self.handles: dict[int, object] = {}
        from IPython.core.interactiveshell import InteractiveShell

        class Shell(InteractiveShell):
            # %matplotlib inline: there is no screen, and no need for one
            def enable_gui(self, gui=None):
                pass

        self.shell = Shell.instance()

    # --- framing -----------------------------------------------------------------
    def read(self) -> dict | None:
        header = self._read_exact(4)
        if header is None:
            return None
        return parse_frame(self._read_exact(frame_length(header)) or b"")

    def _read_exact(self, n: int) -> bytes | None:
        chunks, got = [], 0
        while got < n:
            chunk = self.requests.read(n - got)
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def send(self, message: dict) -> None:
        write_frame(self.replies, message)

    # --- values --------------------------------------------------------------------
    def _handle(self, value) -> dict:
        self.handles[id(value)] = value
        return {"handle": {"id": id(value), "type": type(value).__name__[:100]}}

    def encode(self, value):
        return encode(value, on_other=self._handle)

    def _decode_tagged(self, tag, body):
        if tag == "callback" and isinstance(body, int):
            return self._callback(body)
        if tag == "ref" and body in self.handles:
            return self.handles[body]
        if tag == "name" and isinstance(body, str) and body in self.shell.user_ns:
            return self.shell.user_ns[body]
        raise WireError(f"unexpected value tag {tag!r}")

    def decode(self, data):
        return decode(data, on_tagged=self._decode_tagged)

    def _callback(self, callback_id: int):
        """A function the grader lent to the student's code: calling it asks the grader, with data
        only."""
        def grader_function(*args, **kwargs):
            try:
                payload = {
                    "callback": callback_id,
                    "args": encode(list(args)),
                    "kwargs": encode(kwargs),
                }
            except WireError as error:
                raise TypeError(
                    f"the grader's function takes tensors and numbers only: {error}"
                ) from None
            self.send(payload)
            reply = self.read()
            if reply is None:
                raise SystemExit(0)
            if "error" in reply:
                kind = getattr(builtins, reply["error"].get("base", ""), RuntimeError)
                if not (isinstance(kind, type) and issubclass(kind, Exception)):
                    kind = RuntimeError
                raise kind(reply["error"].get("message", ""))
            return decode(reply.get("value"))
        return grader_function

    # --- requests ------------------------------------------------------------------
    def op_exec(self, request: dict) -> dict:
        result = self.shell.run_cell(request["source"], store_history=False)
        error = result.error_before_exec or result.error_in_exec
        return {"error": describe_error(error)} if error is not None else {"ok": True}

    def op_names(self, request: dict) -> dict:
        answers = {}
        for name in request["names"]:
            if name not in self.shell.user_ns:
                answers[name] = {"kind": "missing"}
                continue
            value = self.shell.user_ns[name]
            if callable(value):
                answers[name] = {"kind": "callable", "type": type(value).__name__[:100]}
            else:
                answers[name] = {"kind": "value", "value": self.encode(value)}
        return {"names": answers}

    def op_getattr(self, request: dict) -> dict:
        attr = request["attr"]
        if not isinstance(attr, str) or attr.startswith("__"):
            raise ValueError("attribute not allowed")
        return {"value": self.encode(getattr(self.decode(request["target"]), attr))}

    def op_call(self, request: dict) -> dict:
        target = self.decode(request["target"])
        args, kwargs = self.decode(request["args"]), self.decode(request["kwargs"])
        # {"wrt": i, "upstream": tensor or None}: d sum(out·up) / d args[i]
        gradient = request.get("gradient")
        if gradient is not None:
            args = list(args)
            args[gradient["wrt"]] = args[gradient["wrt"]].detach().clone().requires_grad_(True)
        _State.calling, _State.library_calls = True, set()
        try:
            value = target(*args, **kwargs)
            if gradient is not None:
                grad = self._gradient(value, args[gradient["wrt"]], gradient.get("upstream"))
        except BaseException as error:            # the student's exception, reported as data
            reply = {"error": describe_error(error)}
        else:
            reply = {"value": self.encode(value)}
            if gradient is not None:
                reply["gradient"] = self.encode(grad)
        finally:
            _State.calling = False
        reply["library_calls"] = sorted(_State.library_calls)
        reply["args_after"] = self._tensors_after(args, kwargs)
        return reply

    def _gradient(self, value, wrt, upstream):
        """The gradient of sum(value · upstream) with respect to ``wrt``; None if none flows (a
        detached result)."""
        import torch

        if not isinstance(value, torch.Tensor) or not value.requires_grad:
            return None
        upstream = torch.ones_like(value) if upstream is None else decode(upstream).to(value.dtype)
        (grad,) = torch.autograd.grad((value * upstream).sum(), wrt, allow_unused=True)
        return grad

    @staticmethod
    def _tensors_after(args, kwargs) -> dict:
        """The tensor arguments as they are after the call, so the grader sees in-place changes
        too."""
        import torch

        def after(value):
            return encode(value) if isinstance(value, torch.Tensor) else None

        return {
            "args": [after(a) for a in args],
            "kwargs": {k: after(v) for k, v in kwargs.items()},
        }

    def serve(self) -> None:
        while (request := self.read()) is not None:
            handler = getattr(self, f"op_{request.get('op')}", None)
            try:
                reply = (
                    handler(request)
                    if handler
                    else {"error": describe_error(ValueError("unknown request"))}
                )
            except BaseException as error:
                reply = {"error": describe_error(error)}
            try:
                self.send(reply)
            except WireError as error:            # e.g. a result too large to send
                self.send({"error": describe_error(error)})


def main(argv: list[str]) -> None:
    reply_fd = int(argv[argv.index("--reply-fd") + 1])
    # dup'd descriptors are not inherited by `!commands`
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(reply_fd), "wb", buffering=0)
    os.close(reply_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    # input() in student code sees end of file
    os.dup2(null, 0)
    os.close(null)
    install_watches()
    runner = Runner(requests, replies)
    # start-up (Python, torch, IPython) is not charged to the first cell
    runner.send({"ready": True})
    runner.serve()


if __name__ == "__main__":
    main(sys.argv)
