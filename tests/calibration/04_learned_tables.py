"""Realistic wrong answers for exercise 04, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_LOOKUP = """
def add_learned_positions(x, table):
    seq_len, max_len = x.shape[1], table.shape[0]
    if {too_long}:
        raise ValueError(f"the table has max_len={{max_len}} positions")
    {body}
"""


def _lookup(too_long="seq_len > max_len", body="return x + table[:seq_len]"):
    """The solution's lookup with one part changed (the defaults give the right answer)."""
    return _LOOKUP.format(too_long=too_long, body=body)


def _decay(body):
    return f"""
def untouched_rows_after(start, trained_len, steps, lr, weight_decay):
    return {body}
"""


WRONG_ANSWERS = {
    "no length check: slicing silently returns fewer rows, the add fails with a shape error": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": """
def add_learned_positions(x, table):
    return x + table[:x.shape[1]]
""",
    },
    "off by one: a sequence exactly max_len long is refused": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": _lookup(too_long="seq_len >= max_len"),
    },
    "positions counted from 1 (rows 1..seq)": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": _lookup(too_long="seq_len + 1 > max_len", body="return x + table[1:seq_len + 1]"),
    },
    "adds in place, changing the caller's x": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": _lookup(body="x += table[:seq_len]\n    return x"),
    },
    "no gradient, so unchanged": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": _decay("start[trained_len:].clone()"),
    },
    "untrained rows are zeros": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": _decay("torch.zeros_like(start[trained_len:])"),
    },
    "decay factor without the learning rate, (1 - weight_decay)^steps": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": _decay("start[trained_len:] * (1 - weight_decay) ** steps"),
    },
    "linear approximation 1 - steps·lr·weight_decay": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": _decay("start[trained_len:] * (1 - steps * lr * weight_decay)"),
    },
    "decays in place, shrinking the caller's start table": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": """
def untouched_rows_after(start, trained_len, steps, lr, weight_decay):
    rows = start[trained_len:]
    rows *= (1 - lr * weight_decay) ** steps
    return rows
""",
    },
    "off by one: starts one row late": {
        "cell": "untouched_rows_after", "breaks": ["test_untouched_rows_after"],
        "source": _decay("start[trained_len + 1:] * (1 - lr * weight_decay) ** steps"),
    },
    # 3b calls the student's own similarity_matrix, so a wrong 3a costs 3b too: the whole of exercise 3.
    "plain dot products, not cosines": {
        "cell": "similarity_matrix", "breaks": ["test_similarity_matrix", "test_nearest_other_position"],
        "source": """
def similarity_matrix(table):
    return table @ table.T
""",
    },
    "normalised along the wrong dimension (columns)": {
        "cell": "similarity_matrix", "breaks": ["test_similarity_matrix", "test_nearest_other_position"],
        "source": """
def similarity_matrix(table):
    unit = table / table.norm(dim=0, keepdim=True)
    return unit @ unit.T
""",
    },
    "forgets to leave the row itself out (every position is its own nearest)": {
        "cell": "nearest_other_position", "breaks": ["test_nearest_other_position"],
        "source": """
def nearest_other_position(table):
    return similarity_matrix(table).argmax(dim=1)
""",
    },
    "leaves the row itself out with 0 instead of -inf (fails when every cosine is negative)": {
        "cell": "nearest_other_position", "breaks": ["test_nearest_other_position"],
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(0)
    return similarity.argmax(dim=1)
""",
    },
    "nearest by Euclidean distance, not by cosine": {
        "cell": "nearest_other_position", "breaks": ["test_nearest_other_position"],
        "source": """
def nearest_other_position(table):
    distance = torch.cdist(table, table)
    distance.fill_diagonal_(float("inf"))
    return distance.argmin(dim=1)
""",
    },
    "argmin of the similarity (the least similar position)": {
        "cell": "nearest_other_position", "breaks": ["test_nearest_other_position"],
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(float("inf"))
    return similarity.argmin(dim=1)
""",
    },
    "zeroes the table in place and returns x (edits its inputs to agree with the test)": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": ("def add_learned_positions(x, table):\n"
                   "    if x.shape[1] > table.shape[0]:\n        raise ValueError('the sequence is longer than the table')\n"
                   "    table.zero_()\n    return x.clone()\n"),
    },
    "returns an unreadable value instead of raising (the grader's own errors must not count as ValueError)": {
        "cell": "add_learned_positions", "breaks": ["test_add_learned_positions"],
        "source": ("def add_learned_positions(x, table):\n"
                   "    if x.shape[1] > table.shape[0]:\n        return 2 ** 300\n"
                   "    return x + table[:x.shape[1]]\n"),
    },
}

RIGHT_ANSWERS = {
    "lookup through nn.functional.embedding and torch.arange": {
        "cell": "add_learned_positions",
        "source": """
def add_learned_positions(x, table):
    if x.shape[1] > len(table):
        raise ValueError(f"only {len(table)} positions in the table, got a sequence of {x.shape[1]}")
    return x + torch.nn.functional.embedding(torch.arange(x.shape[1]), table)
""",
    },
    "decay applied step by step in a loop": {
        "cell": "untouched_rows_after",
        "source": """
def untouched_rows_after(start, trained_len, steps, lr, weight_decay):
    rows = start[trained_len:].clone()
    for _ in range(steps):
        rows = rows * (1 - lr * weight_decay)
    return rows
""",
    },
    "cosine through torch.nn.functional.cosine_similarity": {
        "cell": "similarity_matrix",
        "source": """
def similarity_matrix(table):
    return torch.nn.functional.cosine_similarity(table[:, None, :], table[None, :, :], dim=-1)
""",
    },
    "nearest via topk(2), skipping the row itself": {
        "cell": "nearest_other_position",
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table)
    top2 = similarity.topk(2, dim=1).indices
    own = top2[:, 0] == torch.arange(len(table))
    return torch.where(own, top2[:, 1], top2[:, 0])
""",
    },
    "its own exception class, both an IndexError and a ValueError": {
        "cell": "add_learned_positions",
        "source": ("class PositionOutOfRange(IndexError, ValueError):\n"
                   "    \"\"\"Past the end of the table.\"\"\"\n\n"
                   "def add_learned_positions(x, table):\n"
                   "    seq_len, max_len = x.shape[1], table.shape[0]\n"
                   "    if seq_len > max_len:\n"
                   "        raise PositionOutOfRange(f'{seq_len} positions, but the table has {max_len} rows')\n"
                   "    return x + table[:seq_len]\n"),
    },
}
