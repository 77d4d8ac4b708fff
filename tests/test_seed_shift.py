"""tools/seed_shift.py: the seeds a notebook sets really move, so "holds on other seeds" is true."""

from __future__ import annotations

import random
import sys

import nbformat
import numpy as np
import pytest
import torch
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from seed_shift import run_shifted  # noqa: E402

pytestmark = pytest.mark.slow


def _draws_at_seed(seed: int) -> dict[str, str]:
    """Each way a notebook or course_lib seeds, with the draw it gives: computed here, in torch."""
    torch.manual_seed(seed)
    global_torch = torch.randint(10**6, (1,)).item()
    generator = torch.randint(10**6, (1,), generator=torch.Generator().manual_seed(seed)).item()
    random.seed(seed)
    python = random.randrange(10**6)
    np.random.seed(seed)
    numpy = int(np.random.randint(10**6))
    return {
        "torch.manual_seed": f"torch.manual_seed({seed})\n"
                             f"assert torch.randint(10**6, (1,)).item() == {global_torch}",
        "torch.Generator": "g = torch.Generator().manual_seed(" + str(seed) + ")\n"
                           f"assert torch.randint(10**6, (1,), generator=g).item() == {generator}",
        "random.seed": f"random.seed({seed})\nassert random.randrange(10**6) == {python}",
        "numpy.random.seed": f"np.random.seed({seed})\nassert np.random.randint(10**6) == {numpy}",
    }


def test_every_way_of_seeding_is_shifted_and_shift_zero_changes_nothing(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import random\nimport numpy as np\nimport torch")]
    notebook.cells += [nbformat.v4.new_code_cell(code) for code in _draws_at_seed(7).values()]
    path = tmp_path / "draws.ipynb"
    nbformat.write(notebook, path)
    assert run_shifted([path], shift=0, jobs=1) == {"draws.ipynb": []}
    failed = run_shifted([path], shift=3, jobs=1)["draws.ipynb"]
    assert len(failed) == 4, failed           # each of the four seeded draws moved
