"""Realistic wrong answers for exercise 00, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points. tests/test_grading.py submits every entry beside a
blank and a correct notebook and autogrades them with nbgrader.
"""

WRONG_ANSWERS = {
    "forgets the 1/sqrt(d) scaling": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    return torch.softmax(q @ k.T, dim=-1)
""",
    },
    "softmax over the queries instead of the keys": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0)
""",
    },
    "mixes the values up with the inputs (weights @ x)": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k = x @ w_q, x @ w_k
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ x
""",
    },
    "scales by the width of x instead of the key width": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ v
""",
    },
    "tests invariance instead of equivariance": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    return bool(torch.allclose(fn(x[perm]), fn(x), atol=1e-5))
""",
    },
    "takes chance (1 / number of classes) for the ceiling": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    return 1 / len(set(labels.tolist()))
""",
    },
    "groups sentences by their ordered tokens (a bag that remembers order)": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(row), []).append(label)
    return sum(max(Counter(g).values()) for g in groups.values()) / len(labels)
""",
    },
    "turns each sentence into a set (a bag that forgets repeated tokens)": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(frozenset(row), []).append(label)
    return sum(max(Counter(g).values()) for g in groups.values()) / len(labels)
""",
    },
}
