"""Build one offline reveal.js deck per lecture notebook: ``make slides``.

Every asset the decks load is a local file under ``slides/build/assets/``,
copied from the npm packages pinned in ``slides/package.json`` (installed by
``npm ci`` at build time, never committed): reveal.js 4, require.js, jQuery
and a pruned MathJax 2.7. So a classroom without network still shows the
slides, the maths and the figures. Each notebook is executed first, so the
decks carry its figures; widget cells are marked "skip" and are not in the deck.

    python slides/build.py [notebooks/NN_topic.ipynb ...]     (default: all lectures)

Writes slides/build/NN_topic.slides.html (open it in a browser; press "s" for speaker notes).

The notebook is the full reading text; the deck is what a lecturer projects. Besides each cell's
slide type (metadata.slideshow.slide_type), the deck honours these cell tags (slides/README.md
shows how to set them; JupyterLab's notebook view ignores both):

    slide-hide-code    a code cell shows only its output
    slide-hide-output  a code cell shows only its code
    slide-notes        the cell goes to the speaker notes (what it starts, the next cell starts)
    slide-outline      a Markdown cell keeps its headings, display maths, lists, tables, pictures
                       and paragraphs that open in bold; its other paragraphs go to the notes
    slide-small        smaller type for this cell (a wide table, a long printout)
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE_MODULES = HERE / "node_modules"
BUILD = HERE / "build"
ASSETS = BUILD / "assets"

# What MathJax 2.7 needs to typeset TeX as CommonHTML, and nothing else (~5 MB instead of ~70 MB).
MATHJAX_KEEP = [
    "MathJax.js",
    "config/TeX-AMS_CHTML-full.js",
    "extensions",
    "jax/input/TeX",
    "jax/element",
    "jax/output/CommonHTML",
    "fonts/HTML-CSS/TeX/woff",
]

# Paths as the decks see them (relative to slides/build/).
URLS = {
    "--SlidesExporter.reveal_url_prefix": "assets/reveal.js",
    "--SlidesExporter.require_js_url": "assets/require.js",
    "--SlidesExporter.jquery_url": "assets/jquery.min.js",
    "--SlidesExporter.mathjax_url": "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full",
}


# The cell tags the deck honours (tests/test_sync.py rejects other "slide-..." tags: a typo would be
# silently ignored). Hiding code or output is nbconvert's TagRemovePreprocessor's job (configured in
# write_deck), slide-small is CSS (the cell carries the class celltag_slide-small, styled in
# templates/offline_reveal/static/deck.css), slide-notes and slide-outline are deck_cells's.
HIDE_CODE, HIDE_OUTPUT, NOTES, OUTLINE, SMALL = (
    "slide-hide-code",
    "slide-hide-output",
    "slide-notes",
    "slide-outline",
    "slide-small",
)
SLIDE_TAGS = {HIDE_CODE, HIDE_OUTPUT, NOTES, OUTLINE, SMALL}
# What a slide type starts on the deck, by strength; "-" continues what the cell before started.
STARTS = {"-": 0, "fragment": 1, "subslide": 2, "slide": 3, "notes": 0, "skip": 0}
# Markdown blocks slide-outline keeps: a heading, display maths, a list, a table, a picture, or a
# paragraph that opens in bold ("**Prediction.** ...").
OUTLINE_BLOCK = re.compile(r"#{1,6} |\$\$|\\begin\{|\||[*+-] |\d+[.)] |!\[|\*\*")


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def markdown_blocks(source: str) -> list[str]:
    """Markdown split into blocks at blank lines; a heading line is a block of its own, and a
    $$ ... $$ display stays whole."""
    blocks, current, in_maths = [], [], False
    for line in source.split("\n"):
        if not in_maths and (not line.strip() or re.match(r"#{1,6} ", line)):
            blocks += [current] if current else []
            blocks += [[line]] if line.strip() else []
            current = []
            continue
        current.append(line)
        in_maths ^= line.count("$$") % 2 == 1
    blocks += [current] if current else []
    return ["\n".join(block) for block in blocks]


def deck_cells(cells: list) -> list:
    """The cells as the deck shows them (copies: the notebook is not changed).

    A cell tagged slide-notes becomes a notes cell; a Markdown cell tagged slide-outline is split
    into the blocks that stay on the slide and a notes cell with the rest. When a cell that starts a
    slide, sub-slide or fragment leaves the slide, the next shown cell starts it instead; if that
    cell starts a slide or sub-slide of its own, one would be empty, and the build stops.
    """
    import nbformat

    out = []
    carried = None  # (slide type, cell number) of a start whose cell left the slide
    for number, cell in enumerate(copy.deepcopy(cells)):
        kind, tags = slide_type(cell), cell.get("metadata", {}).get("tags", [])
        shown, notes = cell, None
        if kind not in ("notes", "skip") and NOTES in tags:
            shown, notes = None, cell
        elif kind not in ("notes", "skip") and OUTLINE in tags and cell.cell_type == "markdown":
            blocks = markdown_blocks(cell.source)
            kept = [block for block in blocks if OUTLINE_BLOCK.match(block)]
            rest = [block for block in blocks if not OUTLINE_BLOCK.match(block)]
            cell.source = "\n\n".join(kept)
            shown = cell if kept else None
            notes = nbformat.v4.new_markdown_cell("\n\n".join(rest)) if rest else None
        if shown is None:
            if STARTS[kind] > STARTS[carried[0] if carried else "-"]:
                carried = (kind, number)
        elif carried and kind not in ("notes", "skip"):
            if STARTS[carried[0]] >= 2 and STARTS[kind] >= 2:
                raise SystemExit(
                    f"cell {carried[1]} starts a {carried[0]} but is tagged for the notes, and the "
                    f"next shown cell, {number}, starts a {kind}: the {carried[0]} would be empty."
                )
            if STARTS[carried[0]] > STARTS[kind]:
                cell.metadata.setdefault("slideshow", {})["slide_type"] = carried[0]
            carried = None
        out += [shown] if shown is not None else []
        if notes is not None:
            notes.metadata["slideshow"] = {"slide_type": "notes"}
            out.append(notes)
    return out


def copy_assets(everything: bool) -> None:
    """Copy the pinned npm packages' files into slides/build/assets (fresh each time).

    ``everything``: start from an empty slides/build/ (drops decks of renamed or removed lectures).
    """
    if not (NODE_MODULES / "reveal.js").exists():
        raise SystemExit(
            "slides/node_modules is missing: run `npm ci --prefix slides` (make slides does)."
        )
    shutil.rmtree(BUILD if everything else ASSETS, ignore_errors=True)
    ASSETS.mkdir(parents=True)
    for part in ("dist", "plugin/notes"):
        shutil.copytree(NODE_MODULES / "reveal.js" / part, ASSETS / "reveal.js" / part)
    shutil.copy(NODE_MODULES / "requirejs" / "require.js", ASSETS / "require.js")
    shutil.copy(NODE_MODULES / "jquery" / "dist" / "jquery.min.js", ASSETS / "jquery.min.js")
    for part in MATHJAX_KEEP:
        source, target = NODE_MODULES / "mathjax" / part, ASSETS / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)


def write_deck(notebook: Path) -> Path:
    """Execute ``notebook`` and write its deck next to the assets (runs in its own process)."""
    import nbformat
    from nbconvert import SlidesExporter
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.config import Config

    nb = nbformat.read(notebook, as_version=4)
    # Widget cells are not in a deck (slide_type "skip"; tests/test_sync.py finds them the same
    # way), so they are not executed either. Measured reason beyond saving time: executing
    # ipywidgets.interactive cells through nbclient occasionally never returns (kernel and client
    # both idle, waiting on each other; known upstream: jupyter/nbclient#312,
    # jupyter/nbconvert#2029).
    nb.cells = [
        c
        for c in nb.cells
        if not (
            c.cell_type == "code"
            and "widgets." in c.source
            and c.metadata.get("slideshow", {}).get("slide_type") == "skip"
        )
    ]
    ExecutePreprocessor(timeout=600).preprocess(nb, {"metadata": {"path": str(notebook.parent)}})
    # Saved widget state would make the deck fetch the widget manager from a CDN; the deck shows no
    # widgets.
    nb.metadata.pop("widgets", None)
    nb.cells = deck_cells(nb.cells)
    config = Config()
    for option, url in URLS.items():
        section, name = option.lstrip("-").split(".")
        config[section][name] = url
    # Our template = nbconvert's reveal template without its CDN-loaded mermaid script.
    config.SlidesExporter.extra_template_basedirs = [str(HERE / "templates")]
    config.SlidesExporter.template_name = "offline_reveal"
    # reveal.js's "white" theme loads its font from its own folder; the default "simple" fetches
    # Google Fonts.
    config.SlidesExporter.reveal_theme = "white"
    # A slide taller than the screen gets a scroll bar instead of being cut off (a stopgap:
    # tests/test_slides.py fails a deck whose slides do not fit).
    config.SlidesExporter.reveal_scroll = True
    # Laid out on a 16:9 screen of 1280 x 720 CSS pixels (reveal.js scales it to the window); the
    # type sizes for it are in templates/offline_reveal/static/deck.css.
    config.SlidesExporter.reveal_width = "1280"
    config.SlidesExporter.reveal_height = "720"
    # "In [3]:" means nothing to an audience, and its column is width the code needs.
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_CODE}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {HIDE_OUTPUT}
    body, _ = SlidesExporter(config=config).from_notebook_node(nb)
    deck = BUILD / f"{notebook.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck


def build_deck(notebook: Path) -> Path:
    """Run ``write_deck`` in a fresh Python process (one kernel each, so two can run at once)."""
    result = subprocess.run(
        [sys.executable, __file__, "--one", str(notebook)], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"building the deck for {notebook.name} failed:\n{result.stderr[-3000:]}")
    return BUILD / f"{notebook.stem}.slides.html"


def main(arguments: list[str]) -> None:
    notebooks = [Path(a).resolve() for a in arguments] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    copy_assets(everything=not arguments)
    # Two at a time: each execution mostly keeps one core busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for deck in pool.map(build_deck, notebooks):
            print(f"wrote {deck.relative_to(ROOT)}")
    size = sum(f.stat().st_size for f in ASSETS.rglob("*") if f.is_file()) / 1e6
    print(
        f"assets: {size:.1f} MB in {ASSETS.relative_to(ROOT)} (copy slides/build/ as a whole to "
        "present offline)"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        write_deck(Path(sys.argv[2]).resolve())
    else:
        main(sys.argv[1:])
