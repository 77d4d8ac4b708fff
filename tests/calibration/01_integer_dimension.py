"""Realistic wrong answers for exercise 01, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py). RIGHT_ANSWERS are correct
solutions written differently, which must score full marks.
"""

WRONG_ANSWERS = {
    # --- exercise 1: append_position --------------------------------------------------------------
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
    "builds the position column in float32 (a float16 or bfloat16 x comes back as float32)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    positions = torch.arange(seq, dtype=torch.float32)[None, :, None].expand(batch, seq, 1)
    return torch.cat([x, positions], dim=-1)
""",
    },
    "counts positions with a cumsum in x's dtype (bfloat16 stalls at 256)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    ones = torch.ones_like(x[..., :1])             # (batch, seq, 1) in x's dtype
    return torch.cat([x, ones.cumsum(dim=1) - 1], dim=-1)
""",
    },
    "counts in float16 to save memory, then converts (positions above 2048 are rounded twice)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    positions = (torch.arange(seq, dtype=torch.float16).to(x.dtype)[None, :, None]
                 .expand(batch, seq, 1))
    return torch.cat([x, positions], dim=-1)
""",
    },
    "concatenates x.data (no gradient reaches x)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    positions = torch.arange(seq, dtype=x.dtype)[None, :, None].expand(batch, seq, 1)
    return torch.cat([x.data, positions], dim=-1)
""",
    },
    "fills a preallocated tensor under torch.no_grad() (positions are constants, but x is not)": {
        "cell": "append_position",
        "breaks": ["test_append_position"],
        "source": """
def append_position(x):
    batch, seq, d = x.shape
    out = x.new_zeros(batch, seq, d + 1)
    with torch.no_grad():
        out[..., :d] = x
        out[..., d] = torch.arange(seq, dtype=x.dtype)
    return out
""",
    },
    # --- exercise 2: row_entropy ------------------------------------------------------------------
    "measures entropy in bits (log base 2)": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    safe = torch.where(weights > 0, weights, torch.ones_like(weights))
    return -(weights * safe.log2()).sum(dim=-1)
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
    "overwrites the weights with uniform rows in place, then returns their entropy": {
        "cell": "row_entropy", "breaks": ["test_row_entropy"],
        "source": ("def row_entropy(weights):\n"
                   "    weights.fill_(1.0 / weights.shape[-1])\n"
                   "    return torch.full(weights.shape[:-1], math.log(weights.shape[-1]), "
                   "dtype=weights.dtype)\n"),
    },
    "torch.where(w > 0, w.log(), 0): right values, NaN gradient at the zeros": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    return -(weights * logs).sum(dim=-1)
""",
    },
    "torch.special.xlogy(w, w): right values, NaN gradient at the zeros": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return -torch.special.xlogy(weights, weights).sum(dim=-1)
""",
    },
    "torch.special.entr: right values, an infinite gradient at the zeros": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return torch.special.entr(weights).sum(dim=-1)
""",
    },
    "replaces the nan afterwards with nan_to_num (the gradient stays nan)": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return -(weights * weights.log()).nan_to_num().sum(dim=-1)
""",
    },
    "patches the zeros in place with masked_fill_ (changes the caller's weights)": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    weights.masked_fill_(weights == 0, 1.0)        # 1 * log 1 = 0
    return -(weights * weights.log()).sum(dim=-1)
""",
    },
    "a small epsilon inside the log (1e-12): the gradient is wrong for tiny weights": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return -(weights * (weights + 1e-12).log()).sum(dim=-1)
""",
    },
    "a large epsilon inside the log (1e-5)": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    return -(weights * (weights + 1e-5).log()).sum(dim=-1)
""",
    },
    "computes in float32 whatever the input dtype": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    w = weights.float()
    safe = torch.where(w > 0, w, torch.ones_like(w))
    return -(w * safe.log()).sum(dim=-1)
""",
    },
    "detaches the weights (an entropy is 'just a metric')": {
        "cell": "row_entropy",
        "breaks": ["test_row_entropy"],
        "source": """
def row_entropy(weights):
    w = weights.detach()
    safe = torch.where(w > 0, w, torch.ones_like(w))
    return -(w * safe.log()).sum(dim=-1)
""",
    },
    # --- exercise 3: logit_growth -----------------------------------------------------------------
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
    "integer division: a shorter sequence gives a factor of 0": {
        "cell": "logit_growth",
        "breaks": ["test_logit_growth"],
        "source": """
def logit_growth(n_short, n_long):
    return ((n_long - 1) // (n_short - 1)) ** 2
""",
    },
    "inverts the ratio (short over long)": {
        "cell": "logit_growth",
        "breaks": ["test_logit_growth"],
        "source": """
def logit_growth(n_short, n_long):
    return ((n_short - 1) / (n_long - 1)) ** 2
""",
    },
    "takes the largest product of two different positions (a query never pairs with itself)": {
        "cell": "logit_growth",
        "breaks": ["test_logit_growth"],
        "source": """
def logit_growth(n_short, n_long):
    return ((n_long - 1) * (n_long - 2)) / ((n_short - 1) * (n_short - 2))
""",
    },
    # --- exercise 4: cosine_after_layernorm -------------------------------------------------------
    "believes LayerNorm erases an appended index too (returns rho)": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    return float(rho)
""",
    },
    "believes an added index survives LayerNorm like an appended one": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    return (rho * d + p * q) / math.sqrt((d + p ** 2) * (d + q ** 2))
""",
    },
    "forgets the centring: the cosine of the raw vectors (what RMSNorm would keep)": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    if mode == "add":
        return float(rho)
    m = d - 1                                     # |a|^2 = |b|^2 = d - 1
    return (rho * m + p * q) / math.sqrt((m + p ** 2) * (m + q ** 2))
""",
    },
    "derives it for one shared position and reuses p * q for both norms": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    if mode == "add":
        return float(rho)
    return (rho * d + p * q) / (d + p * q)
""",
    },
    "centres the index feature but forgets that the embedding features move by -p/d too": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    if mode == "add":
        return float(rho)
    ip, iq = p * (d - 1) / d, q * (d - 1) / d       # the index after subtracting the mean
    m = d - 1
    return (rho * m + ip * iq) / math.sqrt((m + ip ** 2) * (m + iq ** 2))
""",
    },
    "forgets LayerNorm in add mode (the cosine of a + p1 and b + q1)": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    if mode == "add":
        return (rho + p * q) / math.sqrt((1 + p ** 2) * (1 + q ** 2))
    return (rho * d + p * q) / math.sqrt((d + p ** 2) * (d + q ** 2))
""",
    },
    "late tokens all look alike, so concat gives 1": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    return float(rho) if mode == "add" else 1.0
""",
    },
    "simulates with random Gaussian tokens (not exactly mean 0, mean square 1, cosine rho)": {
        "cell": "cosine_after_layernorm",
        "breaks": ["test_cosine_after_layernorm"],
        "source": """
import torch.nn.functional as F

def cosine_after_layernorm(rho, p, q, d, mode):
    m = d - 1 if mode == "concat" else d
    u, v = torch.randn(2, m, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a, b = u, rho * u + math.sqrt(1 - rho ** 2) * v
    if mode == "concat":
        xa = torch.cat([a, torch.tensor([float(p)], dtype=torch.float64)])
        xb = torch.cat([b, torch.tensor([float(q)], dtype=torch.float64)])
    else:
        xa, xb = a + p, b + q
    return F.cosine_similarity(F.layer_norm(xa, (d,)), F.layer_norm(xb, (d,)), dim=0).item()
""",
    },
}

RIGHT_ANSWERS = {
    "int64 positions, left to torch.cat's type promotion": {
        "cell": "append_position",
        "source": """
def append_position(x):
    batch, seq, _ = x.shape
    # int64: cat converts to x's dtype
    positions = torch.arange(seq)[None, :, None].expand(batch, seq, 1)
    return torch.cat([x, positions], dim=-1)
""",
    },
    "a loop over positions, each filled in x's dtype, with a print": {
        "cell": "append_position",
        "source": """
def append_position(x):
    columns = [torch.full_like(x[:, :1, :1], float(p)) for p in range(x.shape[1])]
    print(f"appending {len(columns)} positions to {tuple(x.shape)} ({x.dtype})")
    return torch.cat([x, torch.cat(columns, dim=1)], dim=-1)
""",
    },
    "float64 positions converted once, output assembled with new_empty and slices": {
        "cell": "append_position",
        "source": """
def append_position(x):
    batch, seq, d = x.shape
    out = x.new_empty(batch, seq, d + 1)
    out[..., :d] = x
    out[..., d] = torch.arange(seq, dtype=torch.float64).to(x.dtype)
    return out
""",
    },
    "the library's clamp to the smallest normal number (a large but finite gradient at 0)": {
        "cell": "row_entropy",
        "source": """
def row_entropy(weights):
    return -(weights * weights.clamp_min(torch.finfo(weights.dtype).tiny).log()).sum(-1)
""",
    },
    "xlogy with a safe second argument, with a warning": {
        "cell": "row_entropy",
        "source": """
import warnings

def row_entropy(weights):
    if (weights == 0).any():
        warnings.warn("some attention weights are exactly 0")
    safe = torch.where(weights == 0, torch.ones_like(weights), weights)
    return -torch.special.xlogy(weights, safe).sum(dim=-1)
""",
    },
    "a brute-force maximum over positions, with a print": {
        "cell": "logit_growth",
        "source": """
def logit_growth(n_short, n_long):
    largest = {n: max(range(n)) * max(range(n)) for n in (n_short, n_long)}
    print("largest |p_i p_j| per length:", largest)
    return largest[n_long] / largest[n_short]
""",
    },
    "measures it numerically on exactly built tokens (a 0-d tensor)": {
        "cell": "cosine_after_layernorm",
        "source": """
import torch.nn.functional as F

def cosine_after_layernorm(rho, p, q, d, mode):
    m = d - 1 if mode == "concat" else d
    ones = torch.ones(m, dtype=torch.float64) / math.sqrt(m)
    u = torch.zeros(m, dtype=torch.float64); u[0], u[1] = 1.0, -1.0
    v = torch.zeros(m, dtype=torch.float64); v[0], v[1], v[2] = 1.0, 1.0, -2.0
    u, v = u / u.norm(), v / v.norm()  # orthonormal, both orthogonal to the ones vector
    a = math.sqrt(m) * u
    b = math.sqrt(m) * (rho * u + math.sqrt(max(1 - rho ** 2, 0.0)) * v)
    if mode == "concat":
        xa = torch.cat([a, torch.tensor([float(p)], dtype=torch.float64)])
        xb = torch.cat([b, torch.tensor([float(q)], dtype=torch.float64)])
    else:
        xa, xb = a + p, b + q
    la, lb = F.layer_norm(xa, (d,)), F.layer_norm(xb, (d,))
    return (la @ lb) / (la.norm() * lb.norm())
""",
    },
    "the formula via explicit centred vectors, in float32": {
        "cell": "cosine_after_layernorm",
        "source": """
def cosine_after_layernorm(rho, p, q, d, mode):
    if mode == "add":
        return rho
    mean_p, mean_q = p / d, q / d
    dot = rho * (d - 1) + (d - 1) * mean_p * mean_q + (p - mean_p) * (q - mean_q)
    norm_p = (d - 1) + (d - 1) * mean_p ** 2 + (p - mean_p) ** 2
    norm_q = (d - 1) + (d - 1) * mean_q ** 2 + (q - mean_q) ** 2
    return float(torch.tensor(dot / (norm_p * norm_q) ** 0.5, dtype=torch.float32))
""",
    },
}
