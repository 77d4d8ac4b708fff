"""Train several small models at once, one per CPU core, with the numbers of one-by-one training.

The course's models are so small that a second thread inside one training buys nothing: a
training step is a chain of tiny matrix products, each too small to split. Two trainings on two
cores do run twice as fast. So a chapter that needs six models (two schemes, three seeds) asks for
all six at once:

    cache = TrainingCache(train_one)        # train_one(*key) -> a trained model (or anything)
    models = cache.get_many(keys)           # missing keys trained in parallel, in key order

A notebook can also start every training it will need at its top (``cache.start(keys)`` returns
at once) and read on: each section's ``get_many`` then waits only for what is not done yet.

Every training runs on one thread (``one_thread``), in the notebook's process or in a worker, so a
model comes out bit for bit the same whether it was trained alone, with others, or on a machine
with another core count. Workers are forked copies of the notebook's process (Linux only: macOS
and Windows train one by one, with the same results), so they see every module already imported.
"""

from __future__ import annotations

import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context

import numpy as np
import torch

#: Set to "1" to train one model at a time (e.g. to step through a training in a debugger).
SERIAL_ENVIRONMENT_VARIABLE = "COURSE_LIB_SERIAL"


@contextmanager
def one_thread():
    """Run torch on one CPU thread inside the block (the count before is restored after).

    Why: a matrix product split over two threads adds its partial sums in another order, so the
    same seed would give slightly different weights on a laptop and on a 2-core CI runner.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def own_random_state():
    """Leave Python's, NumPy's and torch's global generators as they were after the block: a
    cached call and a fresh one must leave the notebook in the same state."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def worker_count(jobs: int) -> int:
    """How many worker processes ``jobs`` trainings get: one per core this process may use, at most
    one per job; 0 means "train here, one by one" (one core, one job, no fork, or serial mode)."""
    if os.environ.get(SERIAL_ENVIRONMENT_VARIABLE) == "1" or not sys.platform.startswith("linux"):
        return 0
    cores = len(os.sched_getaffinity(0))
    return min(cores, jobs) if cores > 1 and jobs > 1 else 0


def _start_worker() -> None:
    # before any torch work in the fork: OpenMP's thread pool does not survive a fork
    torch.set_num_threads(1)


def _run_one(function, key):
    with own_random_state(), one_thread():
        return function(*key)


_warmed_up = False


def _warm_up() -> None:
    """One optimiser step on a throw-away layer, once per process, before the first fork.

    The first training step of a process pays ~0.7 s of one-off set-up (the optimiser's lazy
    imports, autograd's first run); a worker forked after it inherits that work done.
    """
    global _warmed_up
    if not _warmed_up:
        with own_random_state():
            layer = torch.nn.Linear(2, 2)
            optimizer = torch.optim.AdamW(layer.parameters())
            layer(torch.zeros(1, 2)).sum().backward()
            optimizer.step()
        _warmed_up = True


def run_all(function, keys: list[tuple]) -> list:
    """``[function(*key) for key in keys]``, spread over worker processes where possible.

    ``function`` must be a module-level function (workers find it by name) whose result pickles
    (tensors, modules). Each call runs on one thread with the global random generators left as
    they were, so results do not depend on where they ran.
    """
    workers = worker_count(len(keys))
    if not workers:
        return [_run_one(function, key) for key in keys]
    _warm_up()
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"),
                                 initializer=_start_worker) as pool:
            futures = [pool.submit(_run_one, function, key) for key in keys]
            return [future.result() for future in futures]
    except (BrokenProcessPool, OSError):
        # no room for more processes (a sandbox's process limit, a worker killed for memory):
        # the same results, one by one, here
        return [_run_one(function, key) for key in keys]


_background_pool = None


def _pool_for_background() -> ProcessPoolExecutor:
    """One pool of workers (one per core) for the trainings a notebook starts ahead of time."""
    global _background_pool
    if _background_pool is None:
        _warm_up()
        _background_pool = ProcessPoolExecutor(
            len(os.sched_getaffinity(0)), mp_context=get_context("fork"),
            initializer=_start_worker)
    return _background_pool


def _forget_background_pool() -> None:
    global _background_pool
    if _background_pool is not None:
        _background_pool.shutdown(wait=False, cancel_futures=True)
    _background_pool = None


class TrainingCache:
    """Results of ``train_one(*key)`` for the life of the kernel; missing keys computed together.

    Keys are tuples of hashable arguments (seeds, names, frozen configurations). ``get_many``
    returns the stored objects themselves: callers hand out copies. ``start`` begins trainings in
    the background and returns at once; a later ``get_many`` waits for the ones it needs.
    """

    def __init__(self, train_one):
        self.train_one = train_one
        self._results: dict[tuple, object] = {}
        self._pending: dict[tuple, object] = {}        # key -> Future of a background training

    def start(self, keys) -> int:
        """Queue the keys not yet trained or queued on the background workers (in this order);
        returns how many were queued (0 where trainings cannot run in parallel: then each is
        trained when it is first asked for)."""
        keys = [tuple(key) for key in keys]
        missing = [key for key in dict.fromkeys(keys)
                   if key not in self._results and key not in self._pending]
        if not missing or not worker_count(len(missing) + 1):
            return 0
        try:
            pool = _pool_for_background()
            for key in missing:
                self._pending[key] = pool.submit(_run_one, self.train_one, key)
        except (BrokenProcessPool, OSError):
            _forget_background_pool()                # get_many trains what is not done
        return len(missing)

    def get_many(self, keys) -> list:
        keys = [tuple(key) for key in keys]
        for key in dict.fromkeys(keys):
            if key in self._pending:
                try:
                    self._results[key] = self._pending.pop(key).result()
                except BrokenProcessPool:
                    _forget_background_pool()       # trained below, here, like any missing key
        missing = list(dict.fromkeys(key for key in keys if key not in self._results))
        self._results.update(zip(missing, run_all(self.train_one, missing)))
        return [self._results[key] for key in keys]

    def get(self, *key):
        return self.get_many([key])[0]

    def clear(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._results.clear()
