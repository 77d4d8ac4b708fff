"""One student's code in an OS sandbox, and the grader's side of the conversation with it.

The sandbox is bubblewrap (Debian/Ubuntu: ``apt-get install bubblewrap``):

* new PID, network, IPC and UTS namespaces: the student's code sees no other process, no network;
* a read-only view of the system, the Python environment and ``course_lib`` — and nothing else: no
  repository, no ``solutions/``, no other submission, no gradebook, no home directory;
* a private, size-capped ``/tmp`` that vanishes with the sandbox;
* as root, the student's code runs as its own unprivileged user (one per parallel grading slot),
  with no capabilities and ``no_new_privs``; otherwise it runs as you, inside a user namespace;
* a control group per student (cgroup v2, or v1's cpu, memory and pids controllers; as root) bounds
  the *whole* submission — all its processes together — to ``Limits.memory`` bytes, ``Limits.cpus``
  CPUs and ``Limits.processes`` tasks, so forked children cannot multiply the memory or starve a
  student graded beside it; where no cgroup can be made, ``prlimit`` bounds are per process only
  (the report says so);
* ``prlimit`` bounds memory (address space), CPU seconds, processes and file size per process;
* ``--die-with-parent`` and the PID namespace: when the grader kills the sandbox, every process the
  student's code started dies with it.

``Session`` starts the runner (``course_lib.grading.runner``) in the sandbox, feeds it the
notebook's cells one at a time with a deadline each, and makes calls into it. A cell or a call that
runs past its deadline, or kills its own process, gets the sandbox killed; the next call starts a
fresh one that skips the cells that hung or crashed. The student's printed output is kept (bounded)
for the instructor's log only.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.grading.wire import MAX_FRAME, frame_length, parse_frame, write_frame

SANDBOX_UID_BASE = 61000          # as root: each sandbox runs as its own uid/gid from here on
SANDBOX_UID_COUNT = 1000
# Python, torch and IPython starting in the sandbox, before any student code
STARTUP_SECONDS = 120


class StudentTimeout(Exception):
    """The student's code did not answer in time; the sandbox was killed."""


class StudentCrash(Exception):
    """The student's process died (or broke the protocol); the sandbox was killed."""


@dataclass
class Limits:
    """Per-student resources. ``memory`` is address space, the usual way to bound a Python
    process."""

    memory: int = 4 * 2**30
    cpus: float = 1.0
    processes: int = 64
    cpu_seconds: int = 3600
    file_size: int = 64 * 2**20
    tmp_size: int = 64 * 2**20
    log_bytes: int = 256 * 1024


@dataclass
class Sandbox:
    """How to start the runner: ``mode`` "bwrap" (the default; refused if unavailable) or "none"."""

    mode: str = "bwrap"
    limits: Limits = field(default_factory=Limits)
    slot: int = 0
    _uid: int | None = field(default=None, init=False, repr=False)
    _lock: object = field(default=None, init=False, repr=False)

    @property
    def uid(self) -> int | None:
        """As root, a uid no other running sandbox has (held by a lock file until this process
        ends)."""
        if self.mode != "bwrap" or os.geteuid() != 0:
            return None
        if self._uid is None:
            import fcntl
            import tempfile

            folder = Path(tempfile.gettempdir()) / "course-grading-uids"
            folder.mkdir(mode=0o700, exist_ok=True)
            for offset in range(SANDBOX_UID_COUNT):
                uid = SANDBOX_UID_BASE + (self.slot + offset) % SANDBOX_UID_COUNT
                lock = open(folder / f"{uid}.lock", "w")
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    lock.close()
                    continue
                self._uid, self._lock = uid, lock
                break
            else:
                raise RuntimeError(f"all {SANDBOX_UID_COUNT} sandbox uids are in use")
        return self._uid

    def _binds(self) -> list[Path]:
        import course_lib

        paths = {
            Path(sys.prefix),
            Path(sys.base_prefix),
            Path(os.path.realpath(sys.executable)).parent.parent,
            Path(course_lib.__file__).resolve().parent,
        }
        # Nested paths are covered by their parent's bind.
        return sorted(p for p in paths if not any(q != p and q in p.parents for q in paths))

    def _prlimit(self, processes: int) -> list[str]:
        limits = self.limits
        return [
            "prlimit",
            f"--as={limits.memory}",
            f"--cpu={limits.cpu_seconds}",
            f"--nproc={processes}",
            f"--fsize={limits.file_size}",
            "--core=0",
            "--",
        ]

    def command(self, reply_fd: int) -> list[str]:
        runner = [
            sys.executable,
            "-I",
            "-u",
            "-m",
            "course_lib.grading.runner",
            "--reply-fd",
            str(reply_fd),
        ]
        if self.mode == "none":
            return self._prlimit(_own_process_count() + self.limits.processes) + runner
        args = [
            "bwrap",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            str(self.limits.tmp_size),
            "--tmpfs",
            "/tmp",
            "--chdir",
            "/tmp",
            "--clearenv",
            "--setenv",
            "HOME",
            "/tmp",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "MPLBACKEND",
            "Agg",
            "--setenv",
            "OMP_NUM_THREADS",
            "1",
            "--setenv",
            "PYTHONDONTWRITEBYTECODE",
            "1",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "PYTHONUNBUFFERED",
            "1",
        ]
        for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        for name in (
            "ld.so.cache",
            "ld.so.conf",
            "ld.so.conf.d",
            "localtime",
            "passwd",
            "group",
            "nsswitch.conf",
            "fonts",
        ):
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        made = {Path("/"), Path("/tmp")}
        for path in self._binds():
            for parent in reversed(path.parents):
                if parent not in made and not str(parent).startswith(("/usr", "/proc", "/dev")):
                    # not the host's mode (e.g. /root is 0700)
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            args += ["--ro-bind", str(path), str(path)]
            made.add(path)
        if self.uid is not None:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                     "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
            processes = self.limits.processes
        else:
            args += ["--unshare-user", "--"]
            processes = _own_process_count() + self.limits.processes
        return args + self._prlimit(processes) + runner

    def problem(self) -> str | None:
        """Why this sandbox cannot run here (None if it can)."""
        if self.mode == "none":
            return None
        for tool, package in (
            ("bwrap", "bubblewrap"),
            ("prlimit", "util-linux"),
            ("setpriv", "util-linux"),
        ):
            if shutil.which(tool) is None:
                return (
                    f"the grading sandbox needs `{tool}`, which is not installed (Debian/Ubuntu: "
                    f"apt-get install {package}). Install it, or grade without a sandbox with "
                    "--unsandboxed "
                    "(student code then runs with your permissions)."
                )
        probe = self.command(reply_fd=1)
        probe = probe[: probe.index(sys.executable)] + ["/bin/true"]
        result = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            return (
                "bubblewrap cannot create a sandbox on this machine ("
                + result.stderr.strip()[-300:]
                + "). "
                "Inside a container, run it with --privileged or on the host; or grade with "
                "--unsandboxed."
            )
        return None

    def kill_leftovers(self) -> None:
        """As root, every process of this slot's sandbox user belongs to the submission: end them
        all."""
        if self.uid is None:
            return
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid_line = next((line for line in status.splitlines() if line.startswith("Uid:")), "")
            if uid_line.split()[1:2] == [str(self.uid)]:
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass


class ControlGroup:
    """One student's control group: memory, CPU share and task count of all their processes
    together.

    ``kind`` is "v2" (a cgroup2 file system at /sys/fs/cgroup), "v1" (separate cpu, memory and pids
    hierarchies), or None when neither can be written (not root, or a container that hides them).
    """

    ROOT_NAME = "course-grading"

    def __init__(self, name: str, limits: Limits):
        self.name, self.limits = name, limits
        self.kind, self.paths = None, []

    @staticmethod
    def _mounts() -> dict[str, Path]:
        found = {}
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            if parts[2] == "cgroup2" and parts[1] == "/sys/fs/cgroup":
                found["v2"] = Path(parts[1])
            elif parts[2] == "cgroup":
                for controller in ("cpu", "memory", "pids"):
                    if controller in parts[3].split(","):
                        found.setdefault(controller, Path(parts[1]))
        return found

    def create(self) -> bool:
        if os.geteuid() != 0:
            return False
        mounts = self._mounts()
        try:
            if "v2" in mounts:
                self._create_v2(mounts["v2"])
            elif {"cpu", "memory", "pids"} <= set(mounts):
                self._create_v1(mounts)
            else:
                return False
        except OSError:
            self.remove()
            self.kind, self.paths = None, []
            return False
        return True

    def _create_v2(self, root: Path) -> None:
        parent = root / self.ROOT_NAME
        (root / "cgroup.subtree_control").write_text("+cpu +memory +pids")
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text("+cpu +memory +pids")
        group = parent / self.name
        group.mkdir()
        self.kind, self.paths = "v2", [group]
        period = 100_000
        (group / "cpu.max").write_text(f"{int(period * self.limits.cpus)} {period}")
        (group / "memory.max").write_text(str(self.limits.memory))
        if (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(self.limits.processes))

    def _create_v1(self, mounts: dict[str, Path]) -> None:
        self.kind = "v1"
        for controller in ("cpu", "memory", "pids"):
            group = mounts[controller] / self.ROOT_NAME / self.name
            group.mkdir(parents=True)
            self.paths.append(group)
        cpu, memory, pids = self.paths
        period = 100_000
        (cpu / "cpu.cfs_period_us").write_text(str(period))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(period * self.limits.cpus)))
        (memory / "memory.limit_in_bytes").write_text(str(self.limits.memory))
        try:                                      # swap too, where the kernel accounts for it
            (memory / "memory.memsw.limit_in_bytes").write_text(str(self.limits.memory))
        except OSError:
            pass
        (pids / "pids.max").write_text(str(self.limits.processes))

    def wrap(self, command: list[str]) -> list[str]:
        """``command``, started inside the group (a shell writes its own pid, then becomes the
        command)."""
        if not self.paths:
            return command
        joins = "; ".join(
            f"echo $$ > {shlex.quote(str(path / 'cgroup.procs'))}" for path in self.paths
        )
        return ["/bin/sh", "-c", f"{joins} && exec \"$@\"", "sandbox", *command]

    def kill(self) -> None:
        for _ in range(50):
            pids = set()
            for path in self.paths:
                try:
                    pids |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill()
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(list((entry / "task").iterdir()))
        except OSError:
            continue
    return count


class Session:
    """The grader's side: a runner in a sandbox, the program it executes, and calls into it."""

    def __init__(self, sandbox: Sandbox, program: list[tuple[str, str]], cell_timeout: float):
        self.sandbox, self.program, self.cell_timeout = sandbox, program, cell_timeout
        # cell index -> why it is no longer run (hung, crashed)
        self.skipped: dict[int, str] = {}
        self.cell_errors: dict[str, str] = {}  # cell label -> the error it raised
        self.process: subprocess.Popen | None = None
        self.generation = 0
        self.log = bytearray()
        self.log_dropped = 0
        self.restarts = 0
        self.restart_seconds = 0.0
        self.cgroup = None                     # made at the first start, reused across restarts
        # "v1"/"v2" once a control group bounded this submission
        self.cgroup_kind: str | None = None

    # --- process ---------------------------------------------------------------
    def _spawn(self) -> None:
        if self.cgroup is None and self.sandbox.mode == "bwrap":
            self.cgroup = ControlGroup(
                f"{os.getpid()}-{id(self)}-{self.generation}", self.sandbox.limits
            )
            self.cgroup.create()
            self.cgroup_kind = self.cgroup.kind
        reply_r, reply_w = os.pipe()
        log_r, log_w = os.pipe()
        command = self.sandbox.command(reply_w)
        if self.cgroup is not None:
            command = self.cgroup.wrap(command)
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=log_w, stderr=log_w,
                pass_fds=(reply_w,), start_new_session=True, cwd="/",
                env={**_clean_env(), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
        finally:
            os.close(reply_w)
            os.close(log_w)
        self.replies = reply_r
        self.generation += 1
        threading.Thread(target=self._drain_log, args=(log_r,), daemon=True).start()
        try:
            ready = self._read(time.monotonic() + max(STARTUP_SECONDS, self.cell_timeout))
        except (StudentTimeout, StudentCrash) as error:
            self.kill()
            raise StudentCrash(
                f"the grader's Python process did not start ({error or 'timed out'})"
            ) from None
        if ready.get("ready") is not True:
            self.kill()
            raise StudentCrash("the grader's Python process did not start")

    def _drain_log(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                room = self.sandbox.limits.log_bytes - len(self.log)
                self.log += chunk[: max(room, 0)]
                self.log_dropped += max(len(chunk) - max(room, 0), 0)

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()
        if self.cgroup is not None:
            self.cgroup.kill()
        self.sandbox.kill_leftovers()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        os.close(self.replies)
        self.process = None

    def close(self) -> None:
        self.kill()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    # --- frames ------------------------------------------------------------------
    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks, got = [], 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StudentTimeout()
            ready, _, _ = select.select([self.replies], [], [], min(remaining, 3600.0))
            if not ready:
                if remaining <= 3600.0:
                    raise StudentTimeout()
                continue
            chunk = os.read(self.replies, min(n - got, 1 << 20))
            if not chunk:
                raise StudentCrash("the student's process ended")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _read(self, deadline: float) -> dict:
        try:
            length = frame_length(self._read_exact(4, deadline))
            return parse_frame(self._read_exact(length, deadline))
        except (ValueError, UnicodeDecodeError) as error:
            raise StudentCrash(
                f"the student's process sent something that is not a reply ({error})"
            ) from None

    def _send(self, message: dict) -> None:
        try:
            write_frame(self.process.stdin, message)
        except (BrokenPipeError, OSError) as error:
            raise StudentCrash(f"the student's process ended ({error})") from None

    def request(self, message: dict, deadline: float, on_callback=None) -> dict:
        """Send one request and wait (until ``deadline``) for its reply, serving callbacks
        meanwhile.

        On a timeout or a crash the sandbox is killed and the error is raised; the next request
        starts anew.
        """
        # Killed after a hang or a crash: a fresh sandbox, whose start-up is not charged to the call
        # that waits for it.
        if self.process is None:
            started = time.monotonic()
            self.start()
            self.restart_seconds += time.monotonic() - started
            deadline += time.monotonic() - started
        try:
            self._send(message)
            while True:
                reply = self._read(deadline)
                if "callback" not in reply:
                    return reply
                if on_callback is None:
                    raise StudentCrash("the student's process called back when no call was running")
                self._send(on_callback(reply))
        except (StudentTimeout, StudentCrash):
            self.kill()
            raise

    # --- the program -------------------------------------------------------------
    def start(self) -> None:
        """Start a sandbox and run the program's cells, skipping any that hung or crashed before."""
        for _ in range(len(self.program) + 1):
            self._spawn()
            self.restarts += 1
            failed = None
            for index, (label, source) in enumerate(self.program):
                if index in self.skipped:
                    continue
                try:
                    self._send({"op": "exec", "source": source})
                    reply = self._read(time.monotonic() + self.cell_timeout)
                except StudentTimeout:
                    failed = (index, f"did not finish within {self.cell_timeout:g} s")
                except StudentCrash as error:
                    failed = (index, f"stopped the grader's Python process: {error}")
                if failed:
                    self.skipped[index] = failed[1]
                    self.cell_errors[label] = failed[1]
                    self.kill()
                    break
                if "error" in reply:
                    error = reply["error"]
                    self.cell_errors[label] = f"raised {error.get('type')}: {error.get('message')}"
            else:
                return
        raise StudentCrash("the notebook's cells could not be run")

    def student_log(self) -> str:
        text = self.log.decode("utf-8", errors="replace")
        if self.log_dropped:
            text += f"\n[… {self.log_dropped} more bytes of output not kept]"
        return text


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "USER", "LOGNAME", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


__all__ = ["Limits", "MAX_FRAME", "Sandbox", "Session", "StudentCrash", "StudentTimeout"]
