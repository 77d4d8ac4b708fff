"""Realistic wrong answers for exercise 08, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_MROPE = """
def apply_mrope(x, positions, mrope_section, base=10000.0):
    head_dim = x.shape[-1]
    pairs = head_dim // 2
    if {check}:
        raise ValueError({message})
    j = torch.arange(pairs, dtype=torch.float64)
    theta = {theta}
    axis = {axis}
    angles = positions.to(torch.float64)[:, axis] * theta
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    a, b = {split}
    return {combine}
"""


def _mrope(check="sum(mrope_section) != pairs",
           message='f"mrope_section sums to {sum(mrope_section)}, not {pairs}"',
           theta="base ** (-2 * j / head_dim)",
           axis="torch.repeat_interleave(torch.arange(3), torch.tensor(list(mrope_section)))",
           split="x[..., :pairs], x[..., pairs:]",
           combine="torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)"):
    """The solution with one part changed (the defaults give the right answer)."""
    return _MROPE.format(check=check, message=message, theta=theta, axis=axis, split=split,
                         combine=combine)


_SINCOS = """
def sincos_2d_table(height, width, d_model, base=10000.0):
    quarter = d_model // 4
    omega = {omega}
    grid_row, grid_col = {grid}

    def one_axis(coordinate):
        angles = coordinate.flatten()[:, None].double() * omega
        return {one_axis}

    return {table}
"""


def _sincos(omega="base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)",
            grid='torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")',
            one_axis="torch.cat([angles.sin(), angles.cos()], dim=-1)",
            table="torch.cat([one_axis(grid_col), one_axis(grid_row)], dim=-1).float()"):
    return _SINCOS.format(omega=omega, grid=grid, one_axis=one_axis, table=table)


_FACTS = """
def raster_facts(height, width, num_prefix_tokens):
    last_index = {last}
    above_offset = {above}
    raster_offsets = {raster}
    grid_offsets = {grid}
    return {result}
"""


def _facts(last="num_prefix_tokens + height * width - 1", above="-width",
           raster="2 * height * width - 1", grid="(2 * height - 1) * (2 * width - 1)",
           result="last_index, above_offset, raster_offsets, grid_offsets"):
    return _FACTS.format(last=last, above=above, raster=raster, grid=grid, result=result)


WRONG_ANSWERS = {
    # ---- exercise 1: Qwen2-VL's multimodal RoPE by hand (4 points)
    "each axis's block restarts the ladder (the lecture's axial 2-D RoPE), not one ladder": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(theta="torch.cat([base ** (-torch.arange(s, dtype=torch.float64) / s) "
                               "for s in mrope_section if s > 0])"),
    },
    "the blocks read the position columns as (w, h, t)": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(axis="torch.repeat_interleave(torch.tensor([2, 1, 0]), "
                              "torch.tensor(list(mrope_section)))"),
    },
    "Qwen3-VL's interleaved assignment (t, h, w, t, h, w, …) instead of blocks": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(axis="torch.arange(pairs) % 3"),
    },
    "interleaved pairs (2j, 2j + 1) instead of half-split pairs (j, j + d/2)": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(split="x[..., 0::2], x[..., 1::2]",
                         combine="torch.stack([a * cos - b * sin, b * cos + a * sin], "
                                 "dim=-1).flatten(-2)"),
    },
    "the blocks cut along the head's features (2·s each), not along the pairs": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(
            theta="torch.cat([base ** (-2 * j / head_dim)] * 2)",
            axis="torch.repeat_interleave(torch.arange(3), 2 * torch.tensor(list(mrope_section)))",
            combine="x * cos + torch.cat([-b, a], dim=-1) * sin"),
    },
    "rotated the wrong way (by −φ)": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(combine="torch.cat([a * cos + b * sin, b * cos - a * sin], dim=-1)"),
    },
    "the exponent j/d instead of 2j/d": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(theta="base ** (-j / head_dim)"),
    },
    "always float32 out": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(combine="torch.cat([a * cos - b * sin, b * cos + a * sin], "
                                 "dim=-1).float()"),
    },
    "no check of the sections: a wrong sum is silently accepted": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(check="False",
                         axis="torch.repeat_interleave(torch.arange(3), "
                              "torch.tensor(list(mrope_section)))[:pairs]"),
    },
    "rotates x in place (the caller's queries change)": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(split="x[..., :pairs].clone(), x[..., pairs:].clone()",
                         combine="(x[..., :pairs].copy_(a * cos - b * sin), "
                                 "x[..., pairs:].copy_(b * cos + a * sin), x)[-1]"),
    },
    "the ValueError's message names head_dim, not head_dim // 2": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(message='f"mrope_section sums to {sum(mrope_section)}, "'
                                 'f"but head_dim is {head_dim}"'),
    },
    "the ValueError's message names only the sections' sum": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(message='f"mrope_section {tuple(mrope_section)} sums to "'
                                 'f"{sum(mrope_section)}: wrong for this head"'),
    },
    "angles over a ladder of width head_dim / 2 (pairs), not head_dim": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope(theta="base ** (-2 * j / pairs)"),
    },
    "head_dim read as x.shape[1] (right for a 2-D x only)": {
        "cell": "apply_mrope", "breaks": ["test_apply_mrope"],
        "source": _mrope().replace("head_dim = x.shape[-1]", "head_dim = x.shape[1]"),
    },
    # ---- exercise 2: the 2-D sin-cos port's bug (3 points)
    "the port handed back unchanged (bug not found)": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": """
def sincos_2d_table(height, width, d_model, base=10000.0):
    # the port looked right to me
    quarter = d_model // 4
    omega = base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
    grid_col, grid_row = torch.meshgrid(torch.arange(width), torch.arange(height), indexing="ij")

    def one_axis(coordinate):
        angles = coordinate.flatten()[:, None].double() * omega
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    return torch.cat([one_axis(grid_col), one_axis(grid_row)], dim=-1).float()
""",
    },
    "meshgrid's arguments swapped but its indexing left as 'xy' (fixed for square grids only)": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(grid='torch.meshgrid(torch.arange(height), torch.arange(width), '
                               'indexing="xy")'),
    },
    "rows first, columns second (the order of HF's builder before ViT-MAE swaps the halves)": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(table="torch.cat([one_axis(grid_row), one_axis(grid_col)], "
                                "dim=-1).float()"),
    },
    "frequencies of a sinusoid of width d_model, not d_model / 2": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(omega="base ** (-torch.arange(quarter, dtype=torch.float64) "
                                "/ (2 * quarter))"),
    },
    "sin and cos interleaved within each half": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(one_axis="torch.stack([angles.sin(), angles.cos()], "
                                   "dim=-1).flatten(-2)"),
    },
    "rows and columns counted from 1": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(grid='torch.meshgrid(torch.arange(1, height + 1), '
                               'torch.arange(1, width + 1), indexing="ij")'),
    },
    "float64 table": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(table="torch.cat([one_axis(grid_col), one_axis(grid_row)], dim=-1)"),
    },
    "the base ignored: 10000 written into the frequencies": {
        "cell": "sincos_2d_table", "breaks": ["test_sincos_2d_table"],
        "source": _sincos(omega="10000.0 ** (-torch.arange(quarter, dtype=torch.float64) "
                                "/ quarter)"),
    },
    # ---- exercise 3: predict what a 1-D scheme sees of the grid (3 points)
    "the prefix tokens forgotten in the last index": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(last="height * width - 1"),
    },
    "the last index one too far (a count, not an index)": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(last="num_prefix_tokens + height * width"),
    },
    "the patch above is ahead in the sequence (+width)": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(above="width"),
    },
    "the patch above is one grid height back (rows and columns confused)": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(above="-height"),
    },
    "a grid of one row: above_offset 0, as if there were no patch above": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(above="-width if height > 1 else 0"),
    },
    "only the non-negative raster offsets counted": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(raster="height * width"),
    },
    "offset 0 left out of the raster offsets": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(raster="2 * height * width - 2"),
    },
    "the 2-D offsets taken to be as many as the raster ones": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(grid="2 * height * width - 1"),
    },
    "the 2-D offsets counted as (2H + 1)(2W + 1)": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(grid="(2 * height + 1) * (2 * width + 1)"),
    },
    "a list, not a tuple": {
        "cell": "raster_facts", "breaks": ["test_raster_facts"],
        "source": _facts(result="[last_index, above_offset, raster_offsets, grid_offsets]"),
    },
}

RIGHT_ANSWERS = {
    "M-RoPE pair by pair with math, in float32, printing a note": {
        "cell": "apply_mrope",
        "source": """
def apply_mrope(x, positions, mrope_section, base=10000.0):
    head_dim = x.shape[-1]
    half = head_dim // 2
    if sum(mrope_section) != half:
        raise ValueError(f"{sum(mrope_section)} pairs in mrope_section, {half} in the head")
    out = x.clone()
    j = 0
    for axis, size in enumerate(mrope_section):
        for _ in range(size):
            theta = 1.0 / base ** (2 * j / head_dim)
            phi = positions[:, axis].to(torch.float32) * theta
            cos, sin = torch.cos(phi).to(x.dtype), torch.sin(phi).to(x.dtype)
            out[..., j] = x[..., j] * cos - x[..., j + half] * sin
            out[..., j + half] = x[..., j + half] * cos + x[..., j] * sin
            j += 1
    print(f"rotated {j} pairs of {tuple(x.shape)}")
    return out
""",
    },
    "M-RoPE HF's way: cos and sin over the full head, rotate_half": {
        "cell": "apply_mrope",
        "source": """
def rotate_half(x):
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_mrope(x, positions, mrope_section, base=10000.0):
    dim = x.shape[-1]
    if sum(mrope_section) * 2 != dim:
        raise ValueError(
            f"sum(mrope_section) = {sum(mrope_section)} must equal head_dim // 2 = {dim // 2}")
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    freqs = positions.T[..., None].float() * inv_freq                # (3, seq, d/2)
    chunks = freqs.split(list(mrope_section), dim=-1)
    freqs = torch.cat([chunk[i] for i, chunk in enumerate(chunks)], dim=-1)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos().to(x.dtype) + rotate_half(x) * emb.sin().to(x.dtype)
""",
    },
    "M-RoPE with complex numbers": {
        "cell": "apply_mrope",
        "source": """
def apply_mrope(x, positions, mrope_section, base=10000.0):
    d = x.shape[-1]
    if sum(mrope_section) != d // 2:
        raise ValueError("mrope_section adds up to %d, but head_dim // 2 is %d"
                         % (sum(mrope_section), d // 2))
    which = []
    for axis, size in enumerate(mrope_section):
        which += [axis] * size
    theta = torch.tensor([base ** (-2.0 * j / d) for j in range(d // 2)], dtype=torch.float64)
    angle = positions.double()[:, which] * theta
    z = torch.complex(x[..., : d // 2].double(), x[..., d // 2:].double()) * torch.polar(
        torch.ones_like(angle), angle)
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)
""",
    },
    "M-RoPE in float64 angles, a message with head_dim / 2 as a float (8.0)": {
        "cell": "apply_mrope",
        "source": """
def apply_mrope(x, positions, mrope_section, base=10000.0):
    d = x.shape[-1]
    if 2 * sum(mrope_section) != d:
        raise ValueError(f"sum(mrope_section) = {sum(mrope_section)} != head_dim / 2 = {d / 2}")
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    blocks = torch.cat([torch.full((s,), i) for i, s in enumerate(mrope_section)]).long()
    angles = positions.double()[:, blocks] * inv_freq
    emb = torch.cat([angles, angles], dim=-1)
    half = torch.cat([-x[..., d // 2:], x[..., : d // 2]], dim=-1)
    return x * emb.cos().to(x.dtype) + half * emb.sin().to(x.dtype)
""",
    },
    "the port's grids transposed before flattening": {
        "cell": "sincos_2d_table",
        "source": """
def sincos_2d_table(height, width, d_model, base=10000.0):
    # the grids came out (W, H): flattened, they ran down the columns, not along the rows
    quarter = d_model // 4
    omega = base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
    grid_col, grid_row = torch.meshgrid(torch.arange(width), torch.arange(height), indexing="ij")

    def one_axis(coordinate):
        angles = coordinate.T.flatten()[:, None].double() * omega
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    return torch.cat([one_axis(grid_col), one_axis(grid_row)], dim=-1).float()
""",
    },
    "the table from k // W and k % W, in float32": {
        "cell": "sincos_2d_table",
        "source": """
def sincos_2d_table(height, width, d_model, base=10000.0):
    # wrong meshgrid order: patch k is at row k // width, column k % width
    k = torch.arange(height * width)
    rows, cols = (k // width).float(), (k % width).float()
    omega = 1.0 / base ** (torch.arange(d_model // 4).float() / (d_model // 4))
    parts = []
    for coordinate in (cols, rows):
        angle = torch.outer(coordinate, omega)
        parts += [torch.sin(angle), torch.cos(angle)]
    return torch.cat(parts, dim=1)
""",
    },
    "MAE's numpy code with the right meshgrid": {
        "cell": "sincos_2d_table",
        "source": """
import numpy as np


def sincos_2d_table(height, width, d_model, base=10000.0):
    # meshgrid's order: w first with numpy's default "xy", as MAE does
    grid = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    omega = 1.0 / base ** (np.arange(d_model // 4) / (d_model // 4))

    def one_axis(pos):
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    table = np.concatenate([one_axis(grid[0]), one_axis(grid[1])], axis=1)
    return torch.from_numpy(table).float()
""",
    },
    "raster facts by counting every pair": {
        "cell": "raster_facts",
        "source": """
def raster_facts(height, width, num_prefix_tokens):
    cells = [(r, c) for r in range(height) for c in range(width)]
    seq = {cell: num_prefix_tokens + k for k, cell in enumerate(cells)}
    raster = set()
    grid = set()
    for a in cells:
        for b in cells:
            raster.add(seq[b] - seq[a])
            grid.add((b[0] - a[0], b[1] - a[1]))
    print("last patch at", seq[cells[-1]])
    return (seq[cells[-1]], -width, len(raster), len(grid))
""",
    },
    "raster facts from torch counts, converted to ints": {
        "cell": "raster_facts",
        "source": """
def raster_facts(height, width, num_prefix_tokens):
    n = torch.tensor(height * width)
    rows = torch.arange(-(height - 1), height)
    cols = torch.arange(-(width - 1), width)
    return (int(num_prefix_tokens + n - 1), int(-width), int(2 * n - 1),
            int(rows.numel() * cols.numel()))
""",
    },
}
