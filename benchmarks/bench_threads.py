"""Does a second torch thread help the course's tiny models? Measured side by side.

Trains chapter 00's three models (300 steps each) with 1 and with 2 intra-op
threads, first on an idle machine, then while a busy-loop holds one core (as
when nbval runs two notebooks at once). Prints wall times and the 2-thread /
1-thread ratio for each case. Run: make bench
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time

import torch

from course_lib import (
    AgentTask,
    IntegerPosition,
    LearnedPositions,
    NoPositions,
    TinyTransformer,
    seed_everything,
    train,
)


def chapter00_training() -> float:
    task = AgentTask()
    start = time.perf_counter()
    for scheme in (NoPositions(), IntegerPosition("concat"), LearnedPositions(3, 32)):
        seed_everything(0)
        model = TinyTransformer(task.vocab_size, task.num_classes, d_model=32, position=scheme)
        train(model, task, steps=300, seed=0, progress=False)
    return time.perf_counter() - start


def busy_loop(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def measure(threads: int, repeats: int = 3) -> float:
    torch.set_num_threads(threads)
    return statistics.median(chapter00_training() for _ in range(repeats))


def main() -> None:
    for label, contended in (("idle machine", False), ("one core busy", True)):
        hog = mp.Process(target=busy_loop, args=(600,), daemon=True) if contended else None
        if hog:
            hog.start()
        try:
            one, two = measure(1), measure(2)
        finally:
            if hog:
                hog.terminate()
        print(
            f"{label:>14}: 1 thread {one:6.2f} s | 2 threads {two:6.2f} s | ratio 2/1 = "
            f"{two / one:5.2f}"
        )


if __name__ == "__main__":
    main()
