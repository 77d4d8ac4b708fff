"""RoPE speed, side by side in one run on one thread: HF's eager code, course_lib's functions and
the path a model takes (RotaryPositions), each as a ratio to cloning q and k (clone = 1.00).

For each shape (batch, heads, seq, head_dim) and layout, q and k (float32) are rotated at
positions 0..seq − 1. Tables that a model builds once (HF's cos/sin, RotaryPositions' buffer, the
complex rotations) are built outside the timing; ``apply_rope`` rebuilds its angles every call.
    clone        q.clone(), k.clone(): one read and one write of each, the floor for any
                 out-of-place rotation
    HF eager     half_split: transformers' Llama apply_rotary_pos_emb (q·cos + rotate_half(q)·sin);
                 interleaved: GPT-J's, on its own [batch, seq, heads, head_dim] layout
    apply_rope   course_lib.apply_rope on q and on k
    Rotary...    RotaryPositions(head_dim, layout=...).rotate(q, k, positions), table cached
    complex      Meta's Llama code: view q as complex pairs, multiply by precomputed e^{i m θ}
Every candidate is checked against HF before it is timed. Each time is the fastest of 7 rounds
(rounds interleave the candidates, so a busy machine slows them alike), with freed memory kept
for reuse (``keep_freed_memory``), so page faults do not swamp the arithmetic. Run: make bench
"""

from __future__ import annotations

import ctypes
import sys
import time

import torch
from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb as gptj_rope
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_rope

from course_lib import RotaryPositions, apply_rope, rope_cos_sin, rope_inv_freq

SHAPES = [(4, 8, 512, 64), (1, 32, 2048, 128)]
ROUNDS = 7


def candidates(shape, layout: str) -> dict:
    """name -> a function of no arguments that rotates the same q and k (or copies them)."""
    batch, heads, seq, head_dim = shape
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, batch, heads, seq, head_dim, generator=generator)
    positions = torch.arange(seq)
    scheme = RotaryPositions(head_dim, layout=layout)
    scheme.rotate(q, k, positions)                                     # builds its table
    found = {"clone": lambda: (q.clone(), k.clone())}
    if layout == "half_split":
        cos, sin = (t.float() for t in rope_cos_sin(positions, head_dim, layout="half_split"))
        found["HF eager"] = lambda: llama_rope(q, k, cos, sin, unsqueeze_dim=0)
    else:
        # GPT-J's own layout [batch, seq, heads, head_dim]; sin, cos (batch, seq, head_dim/2)
        q_bthd, k_bthd = q.transpose(1, 2).contiguous(), k.transpose(1, 2).contiguous()
        angles = positions[:, None].double() * rope_inv_freq(head_dim)
        sin, cos = (t.float().expand(batch, seq, head_dim // 2)
                    for t in (angles.sin(), angles.cos()))
        found["HF eager"] = lambda: (gptj_rope(q_bthd, sin, cos), gptj_rope(k_bthd, sin, cos))
    found["apply_rope"] = lambda: (apply_rope(q, layout=layout), apply_rope(k, layout=layout))
    found["RotaryPositions"] = lambda: scheme.rotate(q, k, positions)
    if layout == "interleaved":
        angles = positions[:, None].double() * rope_inv_freq(head_dim)
        rotations = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)

        def complex_multiply():
            return tuple(torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (-1, 2)))
                                            * rotations).flatten(-2) for x in (q, k))

        found["complex"] = complex_multiply
    reference = found["HF eager"]()
    if layout == "interleaved":
        reference = tuple(x.transpose(1, 2) for x in reference)
    for name, rotate in found.items():
        if name not in ("clone", "HF eager"):
            assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(rotate(), reference)), name
    return found


def timings(functions: dict) -> dict[str, float]:
    """Seconds per call, the fastest of ROUNDS rounds; each round runs every function in turn."""
    for f in functions.values():                                       # warm-up
        f()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(ROUNDS):
        for name, f in functions.items():
            calls, start = 0, time.perf_counter()
            while calls < 3 or time.perf_counter() - start < 0.02:
                f()
                calls += 1
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best


def keep_freed_memory() -> None:
    """Serve every tensor from glibc's heap and never hand freed memory back: otherwise a large
    tensor is a fresh mmap whose page faults (and trims) cost more than the arithmetic, and the
    times depend on what ran before. GPU allocators cache memory the same way."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            return
        libc.mallopt(-4, 0)             # M_MMAP_MAX: no mmap for large blocks
        # M_TRIM_THRESHOLD: never give the heap back. mallopt takes a C int: 2**62 wrapped to 0
        # ("trim always"), and every clone of a 32 MB tensor page-faulted (8193 faults, 7x slower).
        libc.mallopt(-1, 2**31 - 1)


if __name__ == "__main__":
    keep_freed_memory()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, float32 q and k; "
          "ratio to clone (ms per call of q and k)")
    names = ["clone", "HF eager", "apply_rope", "RotaryPositions", "complex"]
    print(f"{'shape':<20} {'layout':<12}" + "".join(f"{n:>20}" for n in names))
    for shape in SHAPES:
        for layout in ("half_split", "interleaved"):
            t = timings(candidates(shape, layout))
            cells = [f"{t[n] / t['clone']:.2f} ({t[n] * 1e3:.2f})" if n in t else "-"
                     for n in names]
            print(f"{str(shape):<20} {layout:<12}" + "".join(f"{c:>20}" for c in cells))
