"""Realistic wrong answers for exercise 03, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_TABLE = """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    positions = torch.arange({start}, num_positions + {start}, dtype=torch.float64)[:, None]
    frequencies = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) {exponent})
    angles = positions {op} frequencies
    table = torch.empty(num_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.{even}(angles)
    table[:, 1::2] = torch.{odd}(angles)
    return table.float()
"""


def _table(start=0, exponent="/ d_model", op="*", even="sin", odd="cos"):
    return _TABLE.format(start=start, exponent=exponent, op=op, even=even, odd=odd)


_ROTATION = """
def offset_matrix(k, d_model, base=10000.0):
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i in range(d_model // 2):
        b = {angle}
        m[2 * i, 2 * i], m[2 * i, 2 * i + 1] = math.cos(b), {top_right}
        m[2 * i + 1, 2 * i], m[2 * i + 1, 2 * i + 1] = {bottom_left}, math.cos(b)
    return m.float()
"""


def _rotation(angle="k * base ** (-2 * i / d_model)", top_right="math.sin(b)", bottom_left="-math.sin(b)"):
    """The solution's offset matrix with one part changed (the defaults give the right answer)."""
    return _ROTATION.format(angle=angle, top_right=top_right, bottom_left=bottom_left)


WRONG_ANSWERS = {
    "position / div_term (the classic slip)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(op="/"),
    },
    "sin and cos swapped": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(even="cos", odd="sin"),
    },
    "exponent i/d with i the pair index (frequencies too slow to fall)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(exponent="/ 2 / d_model"),
    },
    "positions counted from 1": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(start=1),
    },
    "exponent j/d with j the feature index (cos gets the next pair's frequency)": {
        "cell": "sinusoidal_pe",
        "breaks": ["test_sinusoidal_pe"],
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(d_model, dtype=torch.float64)
    angles = positions * base ** (-j / d_model)
    table = torch.where(j % 2 == 0, torch.sin(angles), torch.cos(angles))
    return table.float()
""",
    },
    "halves layout instead of interleaved": {
        "cell": "sinusoidal_pe",
        "breaks": ["test_sinusoidal_pe"],
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    angles = positions * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()
""",
    },
    "rotation block transposed (moves k back instead of k on)": {
        "cell": "offset_matrix",
        "breaks": ["test_offset_matrix"],
        "source": _rotation(top_right="-math.sin(b)", bottom_left="math.sin(b)"),
    },
    "rotates every pair by the same angle k": {
        "cell": "offset_matrix",
        "breaks": ["test_offset_matrix"],
        "source": _rotation(angle="float(k)"),
    },
    "uses P instead of its inverse": {
        "cell": "to_interleaved_weight",
        "breaks": ["test_to_interleaved_weight"],
        "source": """
def to_interleaved_weight(weight):
    d_model = weight.shape[1]
    perm = torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])
    return weight[:, perm].clone()
""",
    },
    "believes the layout does not matter (returns the weight unchanged)": {
        "cell": "to_interleaved_weight",
        "breaks": ["test_to_interleaved_weight"],
        "source": """
def to_interleaved_weight(weight):
    return weight.clone()
""",
    },
    "permutes in place, changing the caller's weight": {
        "cell": "to_interleaved_weight",
        "breaks": ["test_to_interleaved_weight"],
        "source": """
def to_interleaved_weight(weight):
    d_model = weight.shape[1]
    perm = torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])
    weight[:] = weight[:, torch.argsort(perm)]
    return weight
""",
    },
}

# Correct answers written differently from the solution: they must score full marks.
RIGHT_ANSWERS = {
    "the formula written directly in float32 (p / base**(2i/d))": {
        "cell": "sinusoidal_pe",
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    pe = torch.zeros(num_positions, d_model)
    p = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(p / base ** (two_i / d_model))
    pe[:, 1::2] = torch.cos(p / base ** (two_i / d_model))
    return pe
""",
    },
    "plain Python loops with math.sin / math.cos": {
        "cell": "sinusoidal_pe",
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    pe = torch.zeros(num_positions, d_model)
    for p in range(num_positions):
        for i in range(d_model // 2):
            angle = p / base ** (2 * i / d_model)
            pe[p, 2 * i] = math.sin(angle)
            pe[p, 2 * i + 1] = math.cos(angle)
    return pe
""",
    },
    "offset matrix built with torch.block_diag": {
        "cell": "offset_matrix",
        "source": """
def offset_matrix(k, d_model, base=10000.0):
    blocks = []
    for i in range(d_model // 2):
        b = torch.tensor(k * base ** (-2 * i / d_model))
        blocks.append(torch.stack([torch.stack([b.cos(), b.sin()]), torch.stack([-b.sin(), b.cos()])]))
    return torch.block_diag(*blocks).float()
""",
    },
    "inverse permutation built by scattering": {
        "cell": "to_interleaved_weight",
        "source": """
def to_interleaved_weight(weight):
    d_model = weight.shape[1]
    perm = list(range(0, d_model, 2)) + list(range(1, d_model, 2))
    new = torch.empty_like(weight)
    for j, source_column in enumerate(perm):
        new[:, source_column] = weight[:, j]
    return new
""",
    },
}
