"""Realistic wrong answers for exercise 05, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_INTERLEAVED = """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) {exponent})
    angles = (positions.to(torch.float64){shift})[:, None] * theta
    cos, sin = angles.cos(), angles.sin()
    a, b = x[:, {first}].double(), x[:, {second}].double()
    out = torch.empty(x.shape, dtype=torch.float64)
    out[:, {first}] = a * cos {sign_a} b * sin
    out[:, {second}] = a * sin {sign_b} b * cos
    return out.to(x.dtype)
"""


def _interleaved(exponent="/ d", shift="", first="0::2", second="1::2", sign_a="-", sign_b="+"):
    """The solution's rotation with one part changed (the defaults give the right answer)."""
    return _INTERLEAVED.format(exponent=exponent, shift=shift, first=first, second=second, sign_a=sign_a, sign_b=sign_b)


_HALF = """
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    angles = {layout}
    x64 = x.double()
    rotated_half = {rotate}
    return (x64 * angles.cos() + rotated_half * angles.sin()).to(x.dtype)
"""


def _half(layout="torch.cat((angles, angles), dim=-1)",
          rotate="torch.cat((-x64[:, d // 2:], x64[:, : d // 2]), dim=-1)"):
    return _HALF.format(layout=layout, rotate=rotate)


_ATTENTION = """
def rope_attention(q, k, v, positions):
    q_rot, k_rot, v_used = {q}, {k}, {v}
    scores = q_rot @ k_rot.T {scale}
    return torch.softmax(scores, dim={dim}) @ v_used
"""


def _attention(q="apply_rope(q, positions)", k="apply_rope(k, positions)", v="v", scale="/ math.sqrt(q.shape[-1])",
               dim="-1"):
    return _ATTENTION.format(q=q, k=k, v=v, scale=scale, dim=dim)


WRONG_ANSWERS = {
    "exponent i/d with i the pair index (frequencies fall too slowly)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"], "source": _interleaved(exponent="/ 2 / d"),
    },
    "turns the wrong way (the transposed rotation)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"], "source": _interleaved(sign_a="+", sign_b="-"),
    },
    "positions counted from 1": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"], "source": _interleaved(shift=" + 1"),
    },
    "half-split pairs where interleaved ones were asked for": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved(first=":d // 2", second="d // 2:"),
    },
    "rotate_half with the signs swapped, [x2 ‖ -x1]": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half(rotate="torch.cat((x64[:, d // 2:], -x64[:, : d // 2]), dim=-1)"),
    },
    "angles repeated in place (θ0, θ0, θ1, θ1, ...) instead of [θ ‖ θ]": {
        "cell": "rope_half", "breaks": ["test_rope_half"], "source": _half(layout="angles.repeat_interleave(2, dim=-1)"),
    },
    "the interleaved rotation again (neighbouring pairs)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half(rotate="torch.stack((-x64[:, 1::2], x64[:, 0::2]), dim=-1).flatten(-2)",
                        layout="angles.repeat_interleave(2, dim=-1)"),
    },
    "ignores the positions it was given (always 0, 1, 2, ...)": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"], "source": _attention(q="apply_rope(q)", k="apply_rope(k)"),
    },
    "calls course_lib's apply_rope instead of writing the rotation": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": """
def rope_half(x, positions, base=10000.0):
    from course_lib import apply_rope
    return apply_rope(x, positions, base, layout="half")
""",
    },
    "rotates v as well": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"], "source": _attention(v="apply_rope(v, positions)"),
    },
    "rotates only the queries": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"], "source": _attention(k="k"),
    },
    "forgets the 1/sqrt(d) scaling": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"], "source": _attention(scale=""),
    },
    "softmax over the queries (dim 0) instead of the keys": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"], "source": _attention(dim="0"),
    },
    "zeroes v in place and returns zeros (an answer that edits its inputs to agree with the test)": {
        "cell": "rope_attention", "breaks": ["test_rope_attention"],
        "source": "def rope_attention(q, k, v, positions):\n    v.zero_()\n    return torch.zeros_like(v)\n",
    },
}

RIGHT_ANSWERS = {
    "pairs as complex numbers, as Meta's code does (float32)": {
        "cell": "rope_interleaved",
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = 1.0 / base ** (torch.arange(0, d, 2).float() / d)
    angles = positions.float()[:, None] * theta
    pairs = torch.view_as_complex(x.float().reshape(x.shape[0], d // 2, 2).contiguous())
    out = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)
    return out.to(x.dtype)
""",
    },
    "plain Python loops with math.cos / math.sin": {
        "cell": "rope_half",
        "source": """
def rope_half(x, positions, base=10000.0):
    out = x.clone()
    d = x.shape[-1]
    for row, m in enumerate(positions.tolist()):
        for i in range(d // 2):
            angle = m * base ** (-2 * i / d)
            a, b = x[row, i].item(), x[row, i + d // 2].item()
            out[row, i] = a * math.cos(angle) - b * math.sin(angle)
            out[row, i + d // 2] = a * math.sin(angle) + b * math.cos(angle)
    return out
""",
    },
    "PyTorch's own scaled_dot_product_attention": {
        "cell": "rope_attention",
        "source": """
def rope_attention(q, k, v, positions):
    return torch.nn.functional.scaled_dot_product_attention(apply_rope(q, positions)[None], apply_rope(k, positions)[None],
                                                            v[None])[0]
""",
    },
}
