"""Instructor tooling: grade a class so that no submission can forge, spy on or sabotage a score.

    wire       values across the sandbox wall (JSON frames, tensors as bytes; never pickles)
    runner     inside the sandbox: runs the notebook's cells, answers calls with data
    sandbox    bubblewrap + prlimit around the runner; deadlines, kills, restarts
    by_hand    reads a student's code for "write it yourself" exercises
    harness    outside: the instructor's tests, run against proxies of the student's functions
    feedback   the HTML a student gets back

Not part of the student release (``make release`` leaves this package out).
"""
