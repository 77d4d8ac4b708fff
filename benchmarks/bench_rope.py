"""RoPE two ways, timed side by side: cached cos/sin with rotate_half (HF Llama) vs complex multiply
(Meta).

Both rotate the same float32 queries (batch 4, 8 heads, seq, head_dim 64) by the same
angles; the cos/sin cache and the complex rotations are built once, outside the timing,
as the models do. Prints ms per call and the complex / cached ratio for a few lengths,
and the course_lib.apply_rope call (which rebuilds its angles every time) for scale.
Run: make bench
"""

from __future__ import annotations

import timeit

import torch

from course_lib import apply_rope, rope_cos_sin, rope_inv_freq, rotate_half


def timings(seq: int, head_dim: int = 64) -> dict[str, float]:
    x = torch.randn(4, 8, seq, head_dim, generator=torch.Generator().manual_seed(0))
    cos, sin = (t.float() for t in rope_cos_sin(torch.arange(seq), head_dim, layout="half_split"))
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * rope_inv_freq(head_dim)
    rotations = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)

    def cached_cos_sin():
        return x * cos + rotate_half(x) * sin

    def complex_multiply():
        pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], head_dim // 2, 2))
        return torch.view_as_real(pairs * rotations).flatten(-2)

    def library_apply_rope():
        return apply_rope(x, layout="half_split")

    assert torch.allclose(cached_cos_sin(), library_apply_rope(), atol=1e-5)
    assert torch.allclose(complex_multiply(), apply_rope(x), atol=1e-5)
    return {f.__name__: min(timeit.repeat(f, number=10, repeat=5)) / 10
            for f in (cached_cos_sin, complex_multiply, library_apply_rope)}


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for seq in (128, 512, 2048):
        t = timings(seq)
        print(
            f"seq {seq:>5}: cached cos/sin {t['cached_cos_sin'] * 1e3:7.2f} ms, complex "
            f"{t['complex_multiply'] * 1e3:7.2f} ms"
            f" (ratio complex/cached {t['complex_multiply'] / t['cached_cos_sin']:.2f}),"
            f" apply_rope {t['library_apply_rope'] * 1e3:7.2f} ms"
        )
