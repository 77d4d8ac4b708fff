"""Build one offline reveal.js deck per lecture notebook: ``make slides``.

Every asset the decks load is a local file under ``slides/build/assets/``,
copied from the npm packages pinned in ``slides/package.json`` (installed by
``npm ci`` at build time, never committed): reveal.js 4, require.js, jQuery
and a pruned MathJax 2.7. So a classroom without network still shows the
slides, the maths and the figures. Each notebook is executed first, so the
decks carry its figures; widget cells are marked "skip" and are not in the deck.

    python slides/build.py [notebooks/NN_topic.ipynb ...]     (default: all lectures)

Writes slides/build/NN_topic.slides.html (open it in a browser; press "s" for speaker notes).
"""

from __future__ import annotations

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


def copy_assets(everything: bool) -> None:
    """Copy the pinned npm packages' files into slides/build/assets (fresh each time).

    ``everything``: start from an empty slides/build/ (drops decks of renamed or removed lectures).
    """
    if not (NODE_MODULES / "reveal.js").exists():
        raise SystemExit("slides/node_modules is missing: run `npm ci --prefix slides` (make slides does).")
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
    # Widget cells are not in a deck (slide_type "skip"; tests/test_sync.py finds them the same way), so
    # they are not executed either. Measured reason beyond saving time: executing ipywidgets.interactive
    # cells through nbclient occasionally never returns (kernel and client both idle, waiting on each other;
    # known upstream: jupyter/nbclient#312, jupyter/nbconvert#2029).
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and "widgets." in c.source
                                            and c.metadata.get("slideshow", {}).get("slide_type") == "skip")]
    ExecutePreprocessor(timeout=600).preprocess(nb, {"metadata": {"path": str(notebook.parent)}})
    # Saved widget state would make the deck fetch the widget manager from a CDN; the deck shows no widgets.
    nb.metadata.pop("widgets", None)
    config = Config()
    for option, url in URLS.items():
        section, name = option.lstrip("-").split(".")
        config[section][name] = url
    # Our template = nbconvert's reveal template without its CDN-loaded mermaid script.
    config.SlidesExporter.extra_template_basedirs = [str(HERE / "templates")]
    config.SlidesExporter.template_name = "offline_reveal"
    # reveal.js's "white" theme loads its font from its own folder; the default "simple" fetches Google Fonts.
    config.SlidesExporter.reveal_theme = "white"
    # A slide taller than the screen gets a scroll bar instead of being cut off.
    config.SlidesExporter.reveal_scroll = True
    body, _ = SlidesExporter(config=config).from_notebook_node(nb)
    deck = BUILD / f"{notebook.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck


def build_deck(notebook: Path) -> Path:
    """Run ``write_deck`` in a fresh Python process (one kernel each, so two can run at once)."""
    result = subprocess.run([sys.executable, __file__, "--one", str(notebook)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"building the deck for {notebook.name} failed:\n{result.stderr[-3000:]}")
    return BUILD / f"{notebook.stem}.slides.html"


def main(arguments: list[str]) -> None:
    notebooks = [Path(a).resolve() for a in arguments] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    copy_assets(everything=not arguments)
    # Two at a time: each execution mostly keeps one core busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for deck in pool.map(build_deck, notebooks):
            print(f"wrote {deck.relative_to(ROOT)}")
    size = sum(f.stat().st_size for f in ASSETS.rglob("*") if f.is_file()) / 1e6
    print(f"assets: {size:.1f} MB in {ASSETS.relative_to(ROOT)} (copy slides/build/ as a whole to present offline)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        write_deck(Path(sys.argv[2]).resolve())
    else:
        main(sys.argv[1:])
