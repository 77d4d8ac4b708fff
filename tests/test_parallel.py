"""Trainings side by side (course_lib.parallel): same models as one by one, errors that surface,
generators left alone, and a serial fallback."""

import os
import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from course_lib import parallel
from course_lib.context_extension import fine_tune_copy_model, fine_tune_copy_models
from course_lib.experiments import _TRAINED, COPY_EXPERIMENT, train_copy_model, train_copy_models
from course_lib.probes import train_position_model, train_position_models

QUICK = replace(COPY_EXPERIMENT, steps=15, batch_size=8)
JOBS = [("rope", 0), ("t5", 1), ("learned", 2)]


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _train_each_alone(monkeypatch, jobs, config):
    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, "1")
    _TRAINED.clear()
    alone = [train_copy_model(*job, config=config) for job in jobs]
    monkeypatch.delenv(parallel.SERIAL_ENVIRONMENT_VARIABLE)
    _TRAINED.clear()
    return alone


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_side_by_side_gives_the_models_of_one_by_one(monkeypatch):
    alone = _train_each_alone(monkeypatch, JOBS, QUICK)
    together = train_copy_models(JOBS, QUICK)
    for job, a, b in zip(JOBS, alone, together):
        assert torch.equal(_weights(a), _weights(b)), job
    # and a later single call is served from what the side-by-side run stored
    assert torch.equal(_weights(train_copy_model("t5", 1, QUICK)), _weights(together[1]))


def test_more_threads_change_nothing(monkeypatch):
    # a user who exported OMP_NUM_THREADS=2 still gets the 1-thread weights
    alone = _train_each_alone(monkeypatch, JOBS[:1], QUICK)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _TRAINED.clear()
        again = train_copy_model(*JOBS[0], config=QUICK)
        assert torch.get_num_threads() == 2, "the caller's thread count is restored"
    finally:
        torch.set_num_threads(before)
    assert torch.equal(_weights(alone[0]), _weights(again))


@pytest.mark.parametrize("serial", ["1", "0"])
def test_global_generators_are_left_alone(monkeypatch, serial):
    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, serial)
    _TRAINED.clear()
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    train_copy_models(JOBS[:2], QUICK)
    drawn = (random.random(), np.random.rand(), torch.rand(()).item())
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert drawn == (random.random(), np.random.rand(), torch.rand(()).item())


def test_each_call_returns_its_own_copy():
    first, second = train_copy_models([("rope", 0), ("rope", 0)], QUICK)
    with torch.no_grad():
        first.head.weight.zero_()
    assert second.head.weight.abs().sum() > 0
    assert train_copy_models([("rope", 0)], QUICK)[0].head.weight.abs().sum() > 0


def test_a_key_is_trained_once():
    calls = []

    def record(*key):
        calls.append(key)
        return sum(key)

    cache = parallel.TrainingCache(record)
    os.environ[parallel.SERIAL_ENVIRONMENT_VARIABLE] = "1"
    try:
        assert cache.get_many([(1, 2), (3, 4), (1, 2)]) == [3, 7, 3]
        assert cache.get(3, 4) == 7
    finally:
        del os.environ[parallel.SERIAL_ENVIRONMENT_VARIABLE]
    assert calls == [(1, 2), (3, 4)]


def _fails(value):
    raise ValueError(f"value {value} is not allowed")


@pytest.mark.parametrize("serial", ["1", "0"])
def test_an_error_in_a_worker_reaches_the_caller(monkeypatch, serial):
    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, serial)
    with pytest.raises(ValueError, match="value 3 is not allowed"):
        parallel.run_all(_fails, [(3,), (4,)])


def test_worker_count():
    assert parallel.worker_count(1) == 0, "one job trains here"
    cores = len(os.sched_getaffinity(0))
    assert parallel.worker_count(50) == (cores if cores > 1 else 0)


@pytest.mark.parametrize("job", [("rope",), ("rope", 0, QUICK, 1), "rope", ("rope", -1),
                                 ("sinusoids", 0), ("rope", 0, "config")])
def test_bad_jobs_are_refused_before_training(job):
    with pytest.raises(ValueError, match="job|seed|scheme|config"):
        train_copy_models([job], QUICK)


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_position_models_and_fine_tunes_side_by_side_match_one_by_one(monkeypatch):
    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, "1")
    alone = [train_position_model(True, seed, steps=10) for seed in (3, 4)]
    tuned = [fine_tune_copy_model("linear", seed, steps=3, config=QUICK) for seed in (3, 4)]
    monkeypatch.delenv(parallel.SERIAL_ENVIRONMENT_VARIABLE)
    from course_lib import context_extension, probes

    probes._TRAINED.clear()
    context_extension._FINE_TUNED.clear()
    _TRAINED.clear()
    together = train_position_models([(True, 3), (True, 4)], steps=10)
    tuned_together = fine_tune_copy_models([("linear", 3), ("linear", 4)], steps=3,
                                           config=QUICK)
    for a, b in zip(alone + tuned, together + tuned_together):
        assert torch.equal(_weights(a), _weights(b))
    with pytest.raises(ValueError, match="pair"):
        train_position_models([True])
    with pytest.raises(ValueError, match="kind"):
        fine_tune_copy_models([("stretch", 0)], config=QUICK)


def _process_id(_):
    return os.getpid()


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_jobs_really_run_in_other_processes():
    ids = parallel.run_all(_process_id, [(job,) for job in range(4)])
    assert os.getpid() not in ids, "the notebook's own process trains nothing"


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_trainings_started_ahead_are_the_ones_asked_for_later(monkeypatch):
    from course_lib.experiments import start_copy_models

    alone = _train_each_alone(monkeypatch, JOBS, QUICK)
    assert start_copy_models(JOBS, QUICK) == 3
    assert start_copy_models(JOBS, QUICK) == 0, "queued once"
    assert len(_TRAINED._pending) == 3
    later = train_copy_models(JOBS[::-1], QUICK)[::-1]      # asked for in another order
    assert not _TRAINED._pending
    for job, a, b in zip(JOBS, alone, later):
        assert torch.equal(_weights(a), _weights(b)), job
    with pytest.raises(ValueError, match="scheme"):
        start_copy_models([("sinusoids", 0)], QUICK)


def test_nothing_is_started_ahead_where_trainings_cannot_run_side_by_side(monkeypatch):
    from course_lib.experiments import start_copy_models

    monkeypatch.setenv(parallel.SERIAL_ENVIRONMENT_VARIABLE, "1")
    _TRAINED.clear()
    assert start_copy_models(JOBS, QUICK) == 0 and not _TRAINED._pending
    assert len(train_copy_models(JOBS[:1], QUICK)) == 1


_PARENT = os.getpid()


def _dies_in_a_worker(value):
    if os.getpid() != _PARENT:
        os._exit(1)                   # a worker killed (out of memory, a sandbox's limit)
    return value * 10


@pytest.mark.skipif(parallel.worker_count(2) == 0, reason="needs Linux and 2 usable cores")
def test_a_lost_worker_falls_back_to_training_here():
    assert parallel.run_all(_dies_in_a_worker, [(1,), (2,)]) == [10, 20]
    cache = parallel.TrainingCache(_dies_in_a_worker)
    assert cache.start([(3,), (4,)]) == 2
    assert cache.get_many([(4,), (3,)]) == [40, 30]
    assert parallel._background_pool is None, "the broken pool is let go"
