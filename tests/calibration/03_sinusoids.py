"""Realistic wrong answers for exercise 03, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_TABLE = """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    {check}
    positions = torch.arange({start}, num_positions + {start}, dtype=torch.float64)[:, None]
    frequencies = {base} ** (-torch.arange(0, d_model, 2, dtype=torch.float64) {exponent})
    angles = positions {op} frequencies
    table = torch.empty(num_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.{even}(angles)
    table[:, 1::2] = torch.{odd}(angles)
    return table{end}
"""

_CHECK = 'if d_model % 2:\n        raise ValueError(f"d_model must be even, got {d_model}")'


def _table(start=0, exponent="/ d_model", op="*", even="sin", odd="cos", check=_CHECK, base="base",
           end=".float()"):
    """The solution's table with one part changed (the defaults give the right answer)."""
    return _TABLE.format(start=start, exponent=exponent, op=op, even=even, odd=odd, check=check,
                         base=base, end=end)


_ROTATION = """
def offset_matrix(k, d_model, base=10000.0):
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i in range(d_model // 2):
        b = {angle}
        m[2 * i, 2 * i], m[2 * i, 2 * i + 1] = {diagonal}, {top_right}
        m[2 * i + 1, 2 * i], m[2 * i + 1, 2 * i + 1] = {bottom_left}, {diagonal}
    return m{end}
"""


def _rotation(angle="k * base ** (-2 * i / d_model)", top_right="math.sin(b)",
              bottom_left="-math.sin(b)",
              diagonal="math.cos(b)", end=".float()"):
    """The solution's offset matrix with one part changed (the defaults give the right answer)."""
    return _ROTATION.format(angle=angle, top_right=top_right, bottom_left=bottom_left,
                            diagonal=diagonal, end=end)


_CONVERT = """
def convert_layer(weight, bias, side, to):
    d_model = weight.shape[1] if side == "input" else weight.shape[0]
    p = torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])
    order = {order}
    if side == "input":
        return {input_side}
    return {output_side}
"""


def _convert(order='p if to == "half_split" else torch.argsort(p)',
             input_side="weight[:, order].clone(), bias.clone()",
             output_side="weight[order].clone(), bias[order].clone()"):
    """The solution's layer move with one part changed (the defaults give the right answer)."""
    return _CONVERT.format(order=order, input_side=input_side, output_side=output_side)


_EDGES = """
def is_offset_only(scores, atol=1e-4):
    if scores.numel() == 0:
        return True
    if scores.isnan().any():
        return False
    # equal infinities become equal numbers: a spread of 0
    scores = scores.double().nan_to_num(posinf=1e300, neginf=-1e300)
"""


def _offset_only(body):
    """An is_offset_only around ``body`` that handles the special inputs right (empty, NaN, inf)."""
    return _EDGES + body.lstrip("\n")


_SPREAD = """
def is_offset_only(scores, atol=1e-4):
    {empty}
    scores = scores.double()
    if scores.isnan().any():
        return False
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        diagonal = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        largest, smallest = diagonal.max(dim=-1).values, diagonal.min(dim=-1).values
        if not ({compare}).all():
            return False
    return True
"""

_ANSWERS = {"orthogonal": True, "flip": False, "offset": True, "pair_scale": True,
            "feature_scale": False,
            "concat": True, "token": False, "centred": False, "sines_only": False, "slip": True}


def _answers(**changes):
    """The dict of exercise 5 with some values changed."""
    values = {**_ANSWERS, **changes}
    lines = "".join(f"    {k!r}: {v!r},\n" for k, v in values.items())
    return "which_are_offset_only = {\n" + lines + "}\n"


_BOTH_LAYER_TESTS = ["test_convert_layer_input", "test_convert_layer_output"]
_BOTH_PREDICTION_TESTS = ["test_offset_only_projections", "test_offset_only_inputs"]

WRONG_ANSWERS = {
    # ---- exercise 1: the table -------------------------------------------------------------------
    "position / div_term (the classic slip)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(op="/"),
    },
    "sin and cos swapped": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"],
        "source": _table(even="cos", odd="sin"),
    },
    "exponent i/d with i the pair index (frequencies too slow to fall)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"],
        "source": _table(exponent="/ 2 / d_model"),
    },
    "positions counted from 1": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(start=1),
    },
    "exponent j/d with j the feature index (cos gets the next pair's frequency)": {
        "cell": "sinusoidal_pe",
        "breaks": ["test_sinusoidal_pe"],
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
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
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    angles = positions * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()
""",
    },
    "base fixed at 10000 (the argument ignored)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(base="10000.0"),
    },
    "returns the float64 table (the prompt asks for float32)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(end=""),
    },
    "no check for an odd d_model (torch's own shape error escapes)": {
        "cell": "sinusoidal_pe", "breaks": ["test_sinusoidal_pe"], "source": _table(check="pass"),
    },
    "torch's error re-raised as a bare ValueError()": {
        "cell": "sinusoidal_pe",
        "breaks": ["test_sinusoidal_pe"],
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    angles = positions * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    table = torch.empty(num_positions, d_model, dtype=torch.float64)
    try:
        table[:, 0::2] = torch.sin(angles)
        table[:, 1::2] = torch.cos(angles)
    except RuntimeError:
        raise ValueError()
    return table.float()
""",
    },
    "rows stacked in a loop (breaks for num_positions = 0)": {
        "cell": "sinusoidal_pe",
        "breaks": ["test_sinusoidal_pe"],
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    frequencies = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    rows = []
    for p in range(num_positions):
        row = torch.empty(d_model, dtype=torch.float64)
        row[0::2], row[1::2] = torch.sin(p * frequencies), torch.cos(p * frequencies)
        rows.append(row)
    return torch.stack(rows).float()
""",
    },
    # ---- exercise 2: the offset matrix -----------------------------------------------------------
    "rotation block transposed (moves k back instead of k on)": {
        "cell": "offset_matrix",
        "breaks": ["test_offset_matrix"],
        "source": _rotation(top_right="-math.sin(b)", bottom_left="math.sin(b)"),
    },
    "rotates every pair by the same angle k": {
        "cell": "offset_matrix", "breaks": ["test_offset_matrix"],
        "source": _rotation(angle="float(k)"),
    },
    "pair frequency with exponent i/d (i the pair index)": {
        "cell": "offset_matrix", "breaks": ["test_offset_matrix"],
        "source": _rotation(angle="k * base ** (-i / d_model)"),
    },
    "base fixed at 10000 in the offset matrix": {
        "cell": "offset_matrix", "breaks": ["test_offset_matrix"],
        "source": _rotation(angle="k * 10000.0 ** (-2 * i / d_model)"),
    },
    "sin and cos swapped inside the block": {
        "cell": "offset_matrix", "breaks": ["test_offset_matrix"],
        "source": _rotation(diagonal="math.sin(b)", top_right="math.cos(b)",
                            bottom_left="-math.cos(b)"),
    },
    "returns the float64 matrix (the prompt asks for float32)": {
        "cell": "offset_matrix", "breaks": ["test_offset_matrix"], "source": _rotation(end=""),
    },
    # ---- exercise 3: moving a layer between layouts ----------------------------------------------
    "section 5's cell for every case: argsort(P) whatever the direction": {
        "cell": "convert_layer", "breaks": _BOTH_LAYER_TESTS,
        "source": _convert(order="torch.argsort(p)"),
    },
    "P for every case: the direction ignored": {
        "cell": "convert_layer", "breaks": _BOTH_LAYER_TESTS,
        "source": _convert(order="p"),
    },
    "P and its inverse mixed up (each direction uses the other's permutation)": {
        "cell": "convert_layer", "breaks": _BOTH_LAYER_TESTS,
        "source": _convert(order='torch.argsort(p) if to == "half_split" else p'),
    },
    "the layout does not matter: the layer returned unchanged": {
        "cell": "convert_layer", "breaks": _BOTH_LAYER_TESTS,
        "source": "def convert_layer(weight, bias, side, to):\n"
                  "    return weight.clone(), bias.clone()\n",
    },
    "returns float32 for a float64 layer": {
        "cell": "convert_layer", "breaks": _BOTH_LAYER_TESTS,
        "source": _convert(input_side="weight[:, order].float(), bias.float()",
                           output_side="weight[order].float(), bias[order].float()"),
    },
    "input side: permutes the rows (outputs) instead of the columns (inputs)": {
        "cell": "convert_layer", "breaks": ["test_convert_layer_input"],
        "source": _convert(input_side="weight[order].clone(), bias.clone()"),
    },
    "input side: permutes the bias too (the bias belongs to the outputs)": {
        "cell": "convert_layer", "breaks": ["test_convert_layer_input"],
        "source": _convert(input_side="weight[:, order].clone(), bias[order].clone()"),
    },
    "input side: permutes in place, changing the caller's weight": {
        "cell": "convert_layer",
        "breaks": ["test_convert_layer_input"],
        "source": """
def convert_layer(weight, bias, side, to):
    d_model = weight.shape[1] if side == "input" else weight.shape[0]
    p = torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])
    order = p if to == "half_split" else torch.argsort(p)
    if side == "input":
        weight[:] = weight[:, order]
        return weight, bias
    return weight[order].clone(), bias[order].clone()
""",
    },
    "output side: permutes the columns like the input side": {
        "cell": "convert_layer", "breaks": ["test_convert_layer_output"],
        "source": _convert(output_side="weight[:, order].clone(), bias.clone()"),
    },
    "output side: moves the weight's rows but forgets the bias": {
        "cell": "convert_layer", "breaks": ["test_convert_layer_output"],
        "source": _convert(output_side="weight[order].clone(), bias.clone()"),
    },
    "output side: the inverse permutation (believes writing undoes what reading does)": {
        "cell": "convert_layer", "breaks": ["test_convert_layer_output"],
        "source": _convert(output_side="weight[torch.argsort(order)].clone(), "
                                       "bias[torch.argsort(order)].clone()"),
    },
    # ---- exercise 4: is the score matrix offset-only? --------------------------------------------
    "checks only the main diagonal": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    d = scores.diagonal(dim1=-2, dim2=-1)
    return bool((d.max(dim=-1).values - d.min(dim=-1).values <= atol).all())
"""),
    },
    "confuses offset-only with symmetric": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    if scores.shape[-1] != scores.shape[-2]:
        return True
    return bool(torch.allclose(scores, scores.transpose(-1, -2), atol=atol, rtol=0))
"""),
    },
    "checks that every row is the first row rolled (circulant, not Toeplitz)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    n_q = scores.shape[-2]
    first = scores[..., 0, :]
    for i in range(1, n_q):
        if (scores[..., i, :] - torch.roll(first, i, dims=-1)).abs().max() > atol:
            return False
    return True
"""),
    },
    "neighbouring differences without abs (misses entries that went down)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    steps = scores[..., 1:, 1:] - scores[..., :-1, :-1]
    return bool((steps <= atol).all())
"""),
    },
    "neighbouring differences with abs (a slow drift along a diagonal passes)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only"],
        "source": _offset_only("""
    steps = (scores[..., 1:, 1:] - scores[..., :-1, :-1]).abs()
    return bool((steps <= atol).all())
"""),
    },
    "every entry within atol of its diagonal's first entry (allows a spread of 2·atol)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only"],
        "source": _offset_only("""
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        d = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        if ((d - d[..., :1]).abs() > atol).any():
            return False
    return True
"""),
    },
    "exact equality (no tolerance)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    return torch.equal(scores[..., 1:, 1:], scores[..., :-1, :-1])
"""),
    },
    "a single matrix only (the batch and head axes read as rows and columns)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only", "test_is_offset_only_special"],
        "source": _offset_only("""
    n_q, n_k = scores.shape[0], scores.shape[1]
    for offset in range(1 - n_q, n_k):
        d = torch.diagonal(scores, offset)
        if (d.max() - d.min()).max() > atol:
            return False
    return True
"""),
    },
    "square matrices only (the diagonals of n_q offsets each way)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only"],
        "source": _offset_only("""
    n = scores.shape[-2]
    for offset in range(1 - n, n):
        d = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        if d.shape[-1] > 0 and (d.max(dim=-1).values - d.min(dim=-1).values > atol).any():
            return False
    return True
"""),
    },
    "strictly less than atol (the prompt says at most)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only"],
        "source": _offset_only("""
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        d = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        if not (d.max(dim=-1).values - d.min(dim=-1).values < atol).all():
            return False
    return True
"""),
    },
    "no NaN check (every comparison with NaN is False, so a NaN passes)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only_special"],
        "source": """
def is_offset_only(scores, atol=1e-4):
    if scores.numel() == 0:
        return True
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        d = scores.double().diagonal(offset=offset, dim1=-2, dim2=-1)
        if (d.max(dim=-1).values - d.min(dim=-1).values > atol).any():
            return False
    return True
""",
    },
    "no empty check (max of an empty diagonal raises)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only_special"],
        "source": _SPREAD.format(empty="",
                                 compare="(largest == smallest) | (largest - smallest <= atol)"),
    },
    "empty only when n_q is 0 (a (4, 0) matrix still crashes)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only_special"],
        "source": _SPREAD.format(empty="if scores.shape[-2] == 0:\n        return True",
                                 compare="(largest == smallest) | (largest - smallest <= atol)"),
    },
    "spread <= atol only: -inf - (-inf) is NaN, so a causal mask reads as not offset-only": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only_special"],
        "source": _SPREAD.format(empty="if scores.numel() == 0:\n        return True",
                                 compare="largest - smallest <= atol"),
    },
    "skips the masked entries (a diagonal mixing -inf with numbers passes)": {
        "cell": "is_offset_only",
        "breaks": ["test_is_offset_only_special"],
        "source": """
def is_offset_only(scores, atol=1e-4):
    if scores.numel() == 0:
        return True
    scores = scores.double()
    if scores.isnan().any():
        return False
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        d = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        finite = d.isfinite()
        largest = torch.where(finite, d, -math.inf).max(dim=-1).values
        smallest = torch.where(finite, d, math.inf).min(dim=-1).values
        if (largest - smallest > atol).any():
            return False
    return True
""",
    },
    # ---- exercise 5: predictions -----------------------------------------------------------------
    "believes the projections keep the table's relative property": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(flip=True, feature_scale=True),
    },
    "believes a reflection of the key alone keeps the score relative (it keeps lengths)": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(flip=True),
    },
    "believes any mixing (even an orthogonal one) makes the score absolute": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(orthogonal=False),
    },
    "believes the offset matrix M_5 in W_K makes the score absolute": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(offset=False),
    },
    "believes any diagonal scaling keeps it relative": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(feature_scale=True),
    },
    "believes any scaling at all breaks it": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_projections"],
        "source": _answers(pair_scale=False, feature_scale=False, orthogonal=False),
    },
    "believes the slip also breaks the relative property": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_inputs"],
        "source": _answers(slip=False),
    },
    "believes concatenating a token breaks it, as adding one does": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_inputs"],
        "source": _answers(concat=False),
    },
    "believes adding the same token everywhere keeps the score relative": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_inputs"],
        "source": _answers(token=True),
    },
    "believes centring (LayerNorm's mean) keeps the score relative": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_inputs"],
        "source": _answers(centred=True),
    },
    "believes the sines alone are relative (the cosine partner is decoration)": {
        "cell": "which_are_offset_only", "breaks": ["test_offset_only_inputs"],
        "source": _answers(sines_only=True),
    },
    "believes everything built on the table stays relative": {
        "cell": "which_are_offset_only", "breaks": _BOTH_PREDICTION_TESTS,
        "source": _answers(**{k: True for k in _ANSWERS}),
    },
    "answers written as strings ('True') instead of booleans": {
        "cell": "which_are_offset_only", "breaks": _BOTH_PREDICTION_TESTS,
        "source": ("which_are_offset_only = " + repr({k: str(v) for k, v in _ANSWERS.items()})
                   + "\n"),
    },
}

# Correct answers written differently from the solution: they must score full marks.
RIGHT_ANSWERS = {
    "the formula written directly in float32 (p / base**(2i/d))": {
        "cell": "sinusoidal_pe",
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    if d_model % 2 == 1:
        raise ValueError("d_model must be even")
    pe = torch.zeros(num_positions, d_model)
    p = torch.arange(num_positions, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(p / base ** (two_i / d_model))
    pe[:, 1::2] = torch.cos(p / base ** (two_i / d_model))
    return pe
""",
    },
    "plain Python loops with math.sin / math.cos, an assert-style check and a warning": {
        "cell": "sinusoidal_pe",
        "source": """
import warnings

def sinusoidal_pe(num_positions, d_model, base=10000.0):
    if d_model % 2:
        raise ValueError(f"sinusoidal_pe: d_model={d_model} is odd, but it must be even")
    if num_positions == 0:
        warnings.warn("an empty table")
    pe = torch.zeros(num_positions, d_model)
    for p in range(num_positions):
        for i in range(d_model // 2):
            angle = p / base ** (2 * i / d_model)
            pe[p, 2 * i] = math.sin(angle)
            pe[p, 2 * i + 1] = math.cos(angle)
    print("built a", tuple(pe.shape), "table")
    return pe
""",
    },
    "the Annotated Transformer's float32 exp/log div_term": {
        "cell": "sinusoidal_pe",
        "source": """
def sinusoidal_pe(num_positions, d_model, base=10000.0):
    if d_model % 2 != 0:
        raise ValueError(f"d_model must be even (got {d_model})")
    position = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    div_term = torch.exp(two_i * -(math.log(base) / d_model))
    pe = torch.zeros(num_positions, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
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
        top, bottom = torch.stack([b.cos(), b.sin()]), torch.stack([-b.sin(), b.cos()])
        blocks.append(torch.stack([top, bottom]))
    return torch.block_diag(*blocks).float()
""",
    },
    "offset matrix from strided diagonals in float32": {
        "cell": "offset_matrix",
        "source": """
def offset_matrix(k, d_model, base=10000.0):
    angle = k * base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    c, s = torch.cos(angle).float(), torch.sin(angle).float()
    m = torch.zeros(d_model, d_model)
    idx = torch.arange(0, d_model, 2)
    m[idx, idx], m[idx, idx + 1], m[idx + 1, idx], m[idx + 1, idx + 1] = c, s, -s, c
    return m
""",
    },
    "permutation matrices: the weight multiplied instead of indexed": {
        "cell": "convert_layer",
        "source": """
def convert_layer(weight, bias, side, to):
    d = weight.shape[1] if side == "input" else weight.shape[0]
    perm = torch.zeros(d, d, dtype=weight.dtype)
    for j, i in enumerate(list(range(0, d, 2)) + list(range(1, d, 2))):
        perm[i, j] = 1.0                          # half_split row = interleaved row @ perm
    if to == "interleaved":
        perm = perm.T                             # interleaved row = half_split row @ perm.T
    # new row = old row @ perm, and perm is orthogonal
    if side == "input":
        return weight @ perm, bias.clone()        # x_old W^T = x_new perm^T W^T
    return perm.T @ weight, bias @ perm           # (x W^T + b) perm
""",
    },
    "reshape trick on the feature axis": {
        "cell": "convert_layer",
        "source": """
def convert_layer(weight, bias, side, to):
    def rearrange(t, dim):
        t = t.movedim(dim, -1)
        rest, d = t.shape[:-1], t.shape[-1]
        if to == "half_split":                    # pairs (d/2, 2) read as halves (2, d/2)
            t = t.reshape(*rest, d // 2, 2).transpose(-1, -2).reshape(*rest, d)
        else:
            t = t.reshape(*rest, 2, d // 2).transpose(-1, -2).reshape(*rest, d)
        return t.movedim(-1, dim).contiguous().clone()

    if side == "input":
        return rearrange(weight, 1), bias.clone()
    return rearrange(weight, 0), rearrange(bias, 0)
""",
    },
    "a loop over the pairs, copying feature by feature": {
        "cell": "convert_layer",
        "source": """
def convert_layer(weight, bias, side, to):
    new_w, new_b = weight.clone(), bias.clone()
    d = weight.shape[1] if side == "input" else weight.shape[0]
    for i in range(d // 2):
        # interleaved features 2i (sin) and 2i + 1 (cos) are half-split features i and d/2 + i
        for inter, split in ((2 * i, i), (2 * i + 1, d // 2 + i)):
            old, new = (inter, split) if to == "half_split" else (split, inter)
            if side == "input":
                new_w[:, new] = weight[:, old]
            else:
                new_w[new], new_b[new] = weight[old], bias[old]
    return new_w, new_b
""",
    },
    "infinities replaced by ±1e300 first, then one spread per diagonal": {
        "cell": "is_offset_only",
        "source": _offset_only("""
    n_q, n_k = scores.shape[-2:]
    for offset in range(1 - n_q, n_k):
        d = scores.diagonal(offset=offset, dim1=-2, dim2=-1)
        if not (d.amax(dim=-1) - d.amin(dim=-1) <= atol).all():
            return False
    return True
"""),
    },
    "grouping entries by offset in a dict": {
        "cell": "is_offset_only",
        "source": """
def is_offset_only(scores, atol=1e-4):
    if 0 in scores.shape:
        return True
    if torch.isnan(scores).any():
        return False
    n_q, n_k = scores.shape[-2], scores.shape[-1]
    for matrix in scores.reshape(-1, n_q, n_k).tolist():
        groups = {}
        for i in range(n_q):
            for j in range(n_k):
                groups.setdefault(j - i, []).append(matrix[i][j])
        for g in groups.values():
            if max(g) != min(g) and not max(g) - min(g) <= atol:
                return False
    return True
""",
    },
    "the answers measured in float64 with is_offset_only": {
        "cell": "which_are_offset_only",
        "source": """
d, n = 16, 64
p = torch.arange(n, dtype=torch.float64)[:, None]
w = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
def table(angles):
    t = torch.empty(n, d, dtype=torch.float64)
    t[:, 0::2], t[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return t
pe, slip = table(p * w), table(p / w)
g = torch.Generator().manual_seed(0)
r, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
m5 = offset_matrix(5, d).double()
pair = (torch.rand(d // 2, generator=g, dtype=torch.float64) + 0.5).repeat_interleave(2)
feature = torch.rand(d, generator=g, dtype=torch.float64) + 0.5
flip = torch.diag(torch.tensor([1.0, -1.0] * (d // 2), dtype=torch.float64))
e = torch.randn(d, generator=g, dtype=torch.float64)
c = pe - pe.mean(dim=-1, keepdim=True)
x = torch.cat([pe, e.expand(n, d)], dim=1)
def score(w_q, w_k):
    return (pe @ w_q) @ (pe @ w_k).T
which_are_offset_only = {
    "orthogonal": is_offset_only(score(r, r)),
    "flip": is_offset_only(score(torch.eye(d, dtype=torch.float64), flip)),
    "offset": is_offset_only(score(torch.eye(d, dtype=torch.float64), m5.T)),
    "pair_scale": is_offset_only(score(torch.diag(pair), torch.diag(pair))),
    "feature_scale": is_offset_only(score(torch.diag(feature), torch.diag(feature))),
    "concat": is_offset_only(x @ x.T),
    "token": is_offset_only((pe + e) @ (pe + e).T),
    "centred": is_offset_only(c @ c.T),
    "sines_only": is_offset_only(pe[:, 0::2] @ pe[:, 0::2].T),
    "slip": is_offset_only(slip @ slip.T),
}
print(which_are_offset_only)
""",
    },
}
