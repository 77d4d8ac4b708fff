"""Train several small models at once, one per CPU core, with the numbers of one-by-one training.

The course's models are so small that a second thread inside one training buys nothing: a
training step is a chain of tiny matrix products, each too small to split. Two trainings on two
cores do run twice as fast. So a chapter that needs six models (two schemes, three seeds) asks for
all six at once:

    cache = TrainingCache(train_one)        # train_one(*key) -> a trained model (or anything)
    models = cache.get_many(keys)           # missing keys trained in parallel, in key order

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


def run_all(function, keys: list[tuple]) -> list:
    """``[function(*key) for key in keys]``, spread over worker processes where possible.

    ``function`` must be a module-level function (workers find it by name) whose result pickles
    (tensors, modules). Each call runs on one thread with the global random generators left as
    they were, so results do not depend on where they ran.
    """
    workers = worker_count(len(keys))
    if not workers:
        return [_run_one(function, key) for key in keys]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"),
                             initializer=_start_worker) as pool:
        futures = [pool.submit(_run_one, function, key) for key in keys]
        return [future.result() for future in futures]


class TrainingCache:
    """Results of ``train_one(*key)`` for the life of the kernel; missing keys computed together.

    Keys are tuples of hashable arguments (seeds, names, frozen configurations). ``get_many``
    returns the stored objects themselves: callers hand out copies.
    """

    def __init__(self, train_one):
        self.train_one = train_one
        self._results: dict[tuple, object] = {}

    def get_many(self, keys) -> list:
        keys = [tuple(key) for key in keys]
        missing = list(dict.fromkeys(key for key in keys if key not in self._results))
        self._results.update(zip(missing, run_all(self.train_one, missing)))
        return [self._results[key] for key in keys]

    def get(self, *key):
        return self.get_many([key])[0]

    def clear(self) -> None:
        self._results.clear()
