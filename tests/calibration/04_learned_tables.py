"""Realistic wrong answers for exercise 04, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_LOOKUP = """
def add_learned_positions(x, table, start=0):
    seq_len, max_len = x.shape[-2], table.shape[0]
    if {too_long}:
        raise ValueError({message})
    {body}
"""

_MESSAGE = 'f"the input needs {start + seq_len} positions, but the table has only {max_len} rows"'


def _lookup(too_long="start + seq_len > max_len", body="return x + table[start:start + seq_len]",
            message=_MESSAGE):
    """The solution's lookup with one part changed (the defaults give the right answer)."""
    return _LOOKUP.format(too_long=too_long, body=body, message=message)


_ADAMW = """
def adamw_row_after(start, grads, lr, weight_decay):
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    row = start.clone()
    m = torch.zeros_like(start)
    v = torch.zeros_like(start)
    for t, g in enumerate(grads, start=1):
        {decay}
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = {m_hat}
        v_hat = {v_hat}
        row = {step}
        {after}
    return row
"""


def _adamw(decay="row = row * (1 - lr * weight_decay)", m_hat="m / (1 - beta1 ** t)",
           v_hat="v / (1 - beta2 ** t)",
           step="row - lr * m_hat / (v_hat.sqrt() + eps)", after="pass"):
    """The solution's AdamW with one part changed (the defaults give the right answer)."""
    return _ADAMW.format(decay=decay, m_hat=m_hat, v_hat=v_hat, step=step, after=after)


def _predictions(abandoned="less", opposite_pushes="less", reached_late="more",
                 gradient_size="equal"):
    """The dict of exercise 2b with some answers changed (the defaults are the right answers)."""
    return (f"row_predictions = {{\"abandoned\": {abandoned!r}, \"opposite_pushes\": "
            f"{opposite_pushes!r},\n"
            f"                   \"reached_late\": {reached_late!r}, \"gradient_size\": "
            f"{gradient_size!r}}}\n")


_EX1 = ["test_add_learned_positions"]
_EX2 = ["test_adamw_row_after"]
_EX2B = ["test_row_predictions"]
_EX3A = ["test_similarity_matrix"]
_EX3B = ["test_nearest_other_position"]
_EX3 = _EX3A + _EX3B  # 3b calls the student's own similarity_matrix: a wrong 3a can cost 3b too

WRONG_ANSWERS = {
    # ---- exercise 1: the lookup ------------------------------------------------------------------
    "no length check: slicing silently returns fewer rows, the add fails with a shape error": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": """
def add_learned_positions(x, table, start=0):
    return x + table[start:start + x.shape[-2]]
""",
    },
    "off by one: a sequence exactly max_len long is refused": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(too_long="start + seq_len >= max_len"),
    },
    "positions counted from 1 (rows start+1 .. start+seq)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(too_long="start + seq_len + 1 > max_len",
                          body="return x + table[start + 1:start + seq_len + 1]"),
    },
    "adds in place, changing the caller's x": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="x += table[start:start + seq_len]\n    return x"),
    },
    "a detached table: right values, but the table never trains": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="return x + table.detach()[start:start + seq_len]"),
    },
    "rows built under torch.no_grad() (the table never trains)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="with torch.no_grad():\n"
                               "        rows = table[start:start + seq_len].clone()\n"
                               "    return x + rows"),
    },
    "a bare ValueError(), no message": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(message=""),
    },
    "a message without the numbers": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(message='"the sequence is longer than the position table"'),
    },
    "a message with the table size only (the old LearnedPositions-style message)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(message='f"the table has max_len={max_len} positions"'),
    },
    "PyTorch's own shape error re-raised as ValueError": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": """
def add_learned_positions(x, table, start=0):
    try:
        return x + table[start:start + x.shape[-2]]
    except RuntimeError as error:
        raise ValueError(str(error)) from error
""",
    },
    "PyTorch's index error re-raised as ValueError (lookup with an index tensor)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": """
def add_learned_positions(x, table, start=0):
    positions = torch.arange(start, start + x.shape[-2])
    try:
        return x + table[positions]
    except IndexError as error:
        raise ValueError(f"position lookup failed: {error}") from error
""",
    },
    "length check forgets start (seq > max_len)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(too_long="seq_len > max_len"),
    },
    "lookup ignores start (always rows 0..seq-1)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="return x + table[:seq_len]"),
    },
    "seq read as x.shape[1] (wrong with a head axis or no batch axis)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="return x + table[start:start + x.shape[1]]").replace(
            "seq_len, max_len = x.shape[-2]", "seq_len, max_len = x.shape[1]"),
    },
    "computed in float64 'for precision': float64 back for float32 input": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="return x.double() + table[start:start + seq_len].double()"),
    },
    "result built in torch.zeros without a dtype: float32 back for float64 input": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": _lookup(body="out = torch.zeros(x.shape)\n"
                               "    out[...] = x + table[start:start + seq_len]\n"
                               "    return out"),
    },
    "zeroes the table in place and returns x (edits its inputs to agree with the test)": {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": ("def add_learned_positions(x, table, start=0):\n"
                   "    if start + x.shape[-2] > table.shape[0]:\n"
                   "        raise ValueError(f'needs {start + x.shape[-2]} positions, the table "
                   "has {table.shape[0]}')\n"
                   "    table.zero_()\n    return x.clone()\n"),
    },
    ("returns an unreadable value instead of raising (the grader's own errors "
     "must not count as ValueError)"): {
        "cell": "add_learned_positions", "breaks": _EX1,
        "source": ("def add_learned_positions(x, table, start=0):\n"
                   "    if start + x.shape[-2] > table.shape[0]:\n        return 2 ** 300\n"
                   "    return x + table[start:start + x.shape[-2]]\n"),
    },
    # ---- exercise 2: where AdamW leaves a row ----------------------------------------------------
    "the lecture's decay-only formula for every row, whatever its gradients": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": """
def adamw_row_after(start, grads, lr, weight_decay):
    return start * (1 - lr * weight_decay) ** len(grads)
""",
    },
    "a zero gradient means only the decay (momentum forgotten once the row is abandoned)": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(after="").replace(
            "        m = beta1 * m",
            "        if not g.any():\n            continue\n        m = beta1 * m"),
    },
    "lazy Adam: steps with a zero gradient skipped entirely (no decay, no moment update)": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw().replace("        row = row * (1 - lr * weight_decay)",
                                   "        if not g.any():\n            continue\n"
                                   "        row = row * (1 - lr * weight_decay)"),
    },
    "bias correction with the row's own step count (only the steps that reached it)": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": """
def adamw_row_after(start, grads, lr, weight_decay):
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    row, m, v, used = start.clone(), torch.zeros_like(start), torch.zeros_like(start), 0
    for g in grads:
        row = row * (1 - lr * weight_decay)
        if g.any():
            used += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        if used:
            row = row - lr * (m / (1 - beta1 ** used)) / ((v / (1 - beta2 ** used)).sqrt() + eps)
    return row
""",
    },
    "Adam with L2 (weight decay added to the gradient), not AdamW's decoupled decay": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(decay="g = g + weight_decay * row"),
    },
    "decay applied after the Adam step instead of before": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(decay="pass", after="row = row * (1 - lr * weight_decay)"),
    },
    "no bias correction": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(m_hat="m", v_hat="v"),
    },
    "eps inside the square root": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(step="row - lr * m_hat / (v_hat + eps).sqrt()"),
    },
    "decays start in place (the caller's start shrinks)": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(decay="row.mul_(1 - lr * weight_decay)").replace("row = start.clone()",
                                                                          "row = start"),
    },
    "moments kept in float64 'for precision': float64 back for float32 input": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw().replace("torch.zeros_like(start)",
                                   "torch.zeros(start.shape, dtype=torch.float64)"),
    },
    "calls torch.optim.AdamW itself (the exercise asks for the arithmetic)": {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": """
def adamw_row_after(start, grads, lr, weight_decay):
    part = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.AdamW([part], lr=lr, weight_decay=weight_decay)
    for g in grads:
        part.grad = g.clone()
        optimizer.step()
    return part.detach()
""",
    },
    ("a message that names Adam in a string (the prompt forbids it; the grader "
     "cannot tell it from a call)"): {
        "cell": "adamw_row_after", "breaks": _EX2,
        "source": _adamw(after='print(f"Adam step {t}")'),
    },
    # ---- exercise 2b: predictions ----------------------------------------------------------------
    "decay alone once the gradients stop (an abandoned row's momentum forgotten)": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(abandoned="equal"),
    },
    "a push and an equal opposite push cancel": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(opposite_pushes="equal"),
    },
    "bias correction makes a row reached late behave like a fresh one": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(reached_late="equal"),
    },
    "a row reached late moves less (its moments start from zero)": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(reached_late="less"),
    },
    "a larger gradient moves a row further": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(gradient_size="more"),
    },
    "the opposite pushes read as 'the second push wins' (the latest gradient decides)": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(opposite_pushes="more"),
    },
    "answers capitalised ('Less'): not one of the three strings": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(abandoned="Less", opposite_pushes="Less", reached_late="More",
                               gradient_size="Equal"),
    },
    "the template left with None in it": {
        "cell": "row_predictions", "breaks": _EX2B,
        "source": _predictions(gradient_size="None").replace("'None'", "None"),
    },
    # ---- exercise 3a: the similarity matrix ------------------------------------------------------
    "plain dot products, not cosines": {
        "cell": "similarity_matrix", "breaks": _EX3,
        "source": """
def similarity_matrix(table):
    return table @ table.T
""",
    },
    "normalised along the wrong dimension (columns)": {
        "cell": "similarity_matrix", "breaks": _EX3,
        "source": """
def similarity_matrix(table):
    unit = table / table.norm(dim=0, keepdim=True)
    return unit @ unit.T
""",
    },
    "only one side normalised": {
        "cell": "similarity_matrix", "breaks": _EX3,
        "source": """
def similarity_matrix(table):
    unit = table / table.norm(dim=1, keepdim=True)
    return unit @ table.T
""",
    },
    "divided by the whole table's norm squared (no dim)": {
        "cell": "similarity_matrix", "breaks": _EX3,
        "source": """
def similarity_matrix(table):
    return table @ table.T / table.norm() ** 2
""",
    },
    "absolute value of the cosine (an opposite row counted as similar)": {
        "cell": "similarity_matrix", "breaks": _EX3,
        "source": """
def similarity_matrix(table):
    unit = table / table.norm(dim=1, keepdim=True)
    return (unit @ unit.T).abs()
""",
    },
    "a loop into torch.zeros(n, n): float32 back for a float64 table": {
        "cell": "similarity_matrix", "breaks": _EX3A,
        "source": """
def similarity_matrix(table):
    n = table.shape[0]
    out = torch.zeros(n, n)
    for p in range(n):
        for q in range(n):
            out[p, q] = table[p] @ table[q] / (table[p].norm() * table[q].norm())
    return out
""",
    },
    # ---- exercise 3b: the nearest other position -------------------------------------------------
    "forgets to leave the row itself out (every position is its own nearest)": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    return similarity_matrix(table).argmax(dim=1)
""",
    },
    "leaves the row itself out with 0 instead of -inf (fails when every cosine is negative)": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(0)
    return similarity.argmax(dim=1)
""",
    },
    "leaves the row itself out with -1 (ties with an antiparallel row)": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(-1)
    return similarity.argmax(dim=1)
""",
    },
    ("the second of topk(2), assuming the first is always the row itself (wrong with parallel "
     "rows)"): {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    return similarity_matrix(table).topk(2, dim=1).indices[:, 1]
""",
    },
    "nearest by Euclidean distance, not by cosine": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    distance = torch.cdist(table, table)
    distance.fill_diagonal_(float("inf"))
    return distance.argmin(dim=1)
""",
    },
    "argmin of the similarity (the least similar position)": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(float("inf"))
    return similarity.argmin(dim=1)
""",
    },
    "returns a plain list": {
        "cell": "nearest_other_position", "breaks": _EX3B,
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table).clone()
    similarity.fill_diagonal_(-float("inf"))
    return similarity.argmax(dim=1).tolist()
""",
    },
}

RIGHT_ANSWERS = {
    "lookup through nn.functional.embedding and torch.arange, its own message": {
        "cell": "add_learned_positions",
        "source": """
def add_learned_positions(x, table, start=0):
    seq = x.shape[-2]
    if start + seq > len(table):
        raise ValueError(f"only {len(table)} positions in the table, got "
                         f"positions up to {start + seq}")
    return x + torch.nn.functional.embedding(torch.arange(start, start + seq), table)
""",
    },
    "its own exception class, both an IndexError and a ValueError; a loop over positions; prints": {
        "cell": "add_learned_positions",
        "source": ("class PositionOutOfRange(IndexError, ValueError):\n"
                   "    \"\"\"Past the end of the table.\"\"\"\n\n"
                   "def add_learned_positions(x, table, start=0):\n"
                   "    seq_len, max_len = x.shape[-2], table.shape[0]\n"
                   "    if start + seq_len > max_len:\n"
                   "        raise PositionOutOfRange("
                   "f'max_len = {max_len}, but positions {start}..{start + seq_len - 1} '\n"
                   "                                 "
                   "f'({start + seq_len} in all) were asked for')\n"
                   "    rows = torch.stack([table[start + i] for i in range(seq_len)])\n"
                   "    print('adding', rows.shape[0], 'rows')\n"
                   "    return x + rows\n"),
    },
    "computed in float64 and cast back to x's dtype": {
        "cell": "add_learned_positions",
        "source": """
def add_learned_positions(x, table, start=0):
    n = x.shape[-2]
    if n + start > table.shape[0]:
        raise ValueError("{} positions needed, {} rows in the table"
                         .format(n + start, table.shape[0]))
    return (x.double() + table[start:start + n].double()).to(x.dtype)
""",
    },
    "AdamW written in place the way PyTorch does it (addcdiv_, sqrt of the bias correction)": {
        "cell": "adamw_row_after",
        "source": """
import math

def adamw_row_after(start, grads, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    param = start.clone()
    exp_avg, exp_avg_sq = torch.zeros_like(param), torch.zeros_like(param)
    for step in range(1, len(grads) + 1):
        grad = grads[step - 1]
        param.mul_(1 - lr * weight_decay)
        exp_avg.lerp_(grad, 1 - betas[0])
        exp_avg_sq.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
        bias_correction1 = 1 - betas[0] ** step
        bias_correction2 = 1 - betas[1] ** step
        denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
    return param
""",
    },
    ("computed in float64 and cast back, with a warning and a print (no banned name in its "
     "strings)"): {
        "cell": "adamw_row_after",
        "source": """
import warnings

def adamw_row_after(start, grads, lr, weight_decay):
    warnings.warn("computing the update by hand in float64")
    b1, b2, eps = 0.9, 0.999, 1e-8
    w = start.double()
    m = torch.zeros_like(w)
    v = torch.zeros_like(w)
    for i in range(grads.shape[0]):
        g = grads[i].double()
        t = i + 1
        w = w - lr * weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        w = w - lr * (m / (1 - b1 ** t)) / (torch.sqrt(v / (1 - b2 ** t)) + eps)
    print("steps:", grads.shape[0])
    return w.to(start.dtype)
""",
    },
    "predictions measured with the student's own adamw_row_after": {
        "cell": "row_predictions",
        "source": """
def _moved(start, grads, weight_decay):
    grads = torch.tensor(grads, dtype=torch.float64)[:, None]
    return adamw_row_after(torch.tensor([start], dtype=torch.float64), grads, 0.01,
                           weight_decay).item()

def _compare(x, y):
    return "equal" if abs(x - y) < 1e-4 else ("less" if x < y else "more")

_after_10 = _moved(1.0, [1.0] * 10, 0.1)
row_predictions = {
    "abandoned": _compare(_moved(1.0, [1.0] * 10 + [0.0] * 90, 0.1), _after_10 * 0.999 ** 90),
    "opposite_pushes": _compare(_moved(0.0, [1.0, -1.0] + [0.0] * 98, 0.0), 0.0),
    "reached_late": _compare(abs(_moved(0.0, [0.0] * 90 + [1.0] * 10, 0.0)),
                             abs(_moved(0.0, [1.0] * 10, 0.0))),
    "gradient_size": _compare(abs(_moved(0.0, [1000.0] * 10 + [0.0] * 90, 0.0)),
                              abs(_moved(0.0, [1.0] * 10 + [0.0] * 90, 0.0))),
}
print(row_predictions)
""",
    },
    "predictions built with dict(), keys in another order": {
        "cell": "row_predictions",
        "source": """
row_predictions = dict(gradient_size="equal", reached_late="more")
row_predictions.update(opposite_pushes="less", abandoned="less")
""",
    },
    "cosine through torch.nn.functional.cosine_similarity": {
        "cell": "similarity_matrix",
        "source": """
def similarity_matrix(table):
    return torch.nn.functional.cosine_similarity(table[:, None, :], table[None, :, :], dim=-1)
""",
    },
    "dot products divided by the outer product of the norms": {
        "cell": "similarity_matrix",
        "source": """
def similarity_matrix(table):
    norms = torch.linalg.vector_norm(table, dim=-1)
    return (table @ table.T) / torch.outer(norms, norms)
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
    "a mask instead of -inf, and a Python loop": {
        "cell": "nearest_other_position",
        "source": """
def nearest_other_position(table):
    similarity = similarity_matrix(table)
    n = similarity.shape[0]
    best = []
    for p in range(n):
        others = [q for q in range(n) if q != p]
        scores = similarity[p, others]
        best.append(others[int(scores.argmax())])
    return torch.tensor(best)
""",
    },
}
