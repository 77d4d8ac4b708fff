"""Realistic wrong answers for exercise 01, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

WRONG_ANSWERS = {
    "positions start at 1 (off by one)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    positions = torch.arange(1, seq + 1, dtype=x.dtype)[None, :, None].expand(batch, seq, 1)
    return torch.cat([x, positions], dim=-1)
""",
    },
    "adds the index to every feature instead of appending it": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    return x + torch.arange(x.shape[1], dtype=x.dtype)[None, :, None]
""",
    },
    "puts the index first instead of last": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    positions = torch.arange(seq, dtype=x.dtype)[None, :, None].expand(batch, seq, 1)
    return torch.cat([positions, x], dim=-1)
""",
    },
    "measures entropy in bits (log base 2)": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    logs = torch.where(weights > 0, weights.log2(), torch.zeros_like(weights))
    return -(weights * logs).sum(dim=-1)
""",
    },
    "lets 0 * log(0) become nan on a saturated row": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return -(weights * weights.log()).sum(dim=-1)
""",
    },
    "thinks logits grow like the positions (linearly)": {
        "cell": "logit_growth",
        "breaks": ["test_logit_growth"],
        "source": """
def logit_growth(n_short, n_long):
    return (n_long - 1) / (n_short - 1)
""",
    },
    "uses the length n as the largest position": {
        "cell": "logit_growth",
        "breaks": ["test_logit_growth"],
        "source": """
def logit_growth(n_short, n_long):
    return (n_long / n_short) ** 2
""",
    },
    "overwrites the weights with uniform rows in place, then returns their entropy": {
        "cell": "row_entropy", "breaks": ["test_row_entropy"],
        "source": ("def row_entropy(weights):\n"
                   "    weights.fill_(1.0 / weights.shape[-1])\n"
                   "    return torch.full(weights.shape[:-1], math.log(weights.shape[-1]), dtype=weights.dtype)\n"),
    },
}
