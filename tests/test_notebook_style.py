"""House style of the lecture notebooks, read statically (no kernel).

* One idea per code cell: at most 15 lines.
* Every section stands on its own: an instructor who jumps to a section in class and runs it
  from its first cell (after the set-up cells at the top) gets no NameError and no stale value.
  So no code cell reads a name that only an *earlier section* defines; names from the set-up
  cells, from earlier in the same section, and builtins are fine.

A section starts at a Markdown cell whose first line is a level-2 heading (``## ...``); the code
cells before the first section are the set-up (imports, seeds, device).
"""

from __future__ import annotations

import ast
import builtins

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader_course import ROOT

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 15
IPYTHON_NAMES = {"display", "get_ipython", "In", "Out", "_", "__", "___"}


def _python(source: str) -> ast.Module:
    """A cell as Python, with IPython magics turned into the calls IPython makes."""
    return ast.parse(TransformerManager().transform_cell(source))


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the cell binds anywhere: assignments, imports, defs, parameters, loop and `with`
    targets."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
    return names


def read_names(tree: ast.AST) -> set[str]:
    """Names the cell reads that it does not bind itself (what it needs from earlier cells)."""
    loaded = {n.id for n in ast.walk(tree)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - bound_names(tree)


def sections(path) -> tuple[set[str], list[tuple[str, list[str]]]]:
    """(names the set-up cells bind, [(section heading, [code cell sources])])."""
    nb = nbformat.read(path, as_version=4)
    setup: set[str] = set()
    parts: list[tuple[str, list[str]]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            parts.append((cell.source.splitlines()[0], []))
        elif cell.cell_type == "code":
            if parts:
                parts[-1][1].append(cell.source)
            else:
                setup |= bound_names(_python(cell.source))
    return setup, parts


def names_from_earlier_sections(path) -> list[str]:
    """'section: cell reads `name`, which only an earlier section defines' for every such read."""
    setup, parts = sections(path)
    known = setup | set(dir(builtins)) | IPYTHON_NAMES
    earlier: set[str] = set()
    problems = []
    for heading, cells in parts:
        here: set[str] = set()
        for source in cells:
            tree = _python(source)
            for name in sorted(read_names(tree) - known - here):
                if name in earlier:
                    first_line = source.strip().splitlines()[0][:60]
                    problems.append(f"{heading}: the cell starting `{first_line}` reads `{name}`, "
                                    "which only an earlier section defines")
            here |= bound_names(tree)
        earlier |= here
    return problems


# --- the checker itself ---------------------------------------------------------------
def test_the_section_reader_sees_a_name_carried_over_and_accepts_one_rebuilt(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\nseed = 0"),
                nbformat.v4.new_markdown_cell("## 1. One"),
                nbformat.v4.new_code_cell("x = torch.ones(3)\nd = 4"),
                nbformat.v4.new_markdown_cell("## 2. Two"),
                nbformat.v4.new_code_cell("d = 8\nprint(d, seed)"),
                nbformat.v4.new_code_cell("def f(t):\n    return t * x\n%time f(torch.zeros(2))")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    problems = names_from_earlier_sections(path)
    assert len(problems) == 1 and "`x`" in problems[0], problems


# --- the lectures ---------------------------------------------------------------------
@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_section_builds_what_it_uses(path):
    problems = names_from_earlier_sections(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_code_cells_hold_one_idea(path):
    nb = nbformat.read(path, as_version=4)
    long_cells = [(len(c.source.splitlines()), c.source.splitlines()[0][:60]) for c in nb.cells
                  if c.cell_type == "code" and len(c.source.splitlines()) > MAX_CELL_LINES]
    assert not long_cells, f"cells over {MAX_CELL_LINES} lines (lines, first line): {long_cells}"
