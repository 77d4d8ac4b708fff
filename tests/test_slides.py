"""The offline slide decks (`make slides`), rendered in headless Chromium with the network cut off.

For every lecture: reveal.js reports itself ready with the notebook's number of
slides, the page is one slide (not one long page), the first slide and a maths
slide render with visible content and typeset maths, speaker notes are there,
and the page requested nothing but local files.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from PIL import Image

from nbgrader_course import ROOT

pytestmark = pytest.mark.slow

LECTURES = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VIEWPORT = {"width": 1280, "height": 720}
# Flags Chromium needs as root in a container, and to keep it from calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # Belt and braces: even if the namespace below is unavailable, no host name resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
]


def slide_types(lecture: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{lecture}.ipynb").read_text())
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in nb["cells"]]


@pytest.fixture(scope="module")
def decks():
    result = subprocess.run(["make", "slides"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return ROOT / "slides" / "build"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is needed for the slide tests: `apt-get install chromium` (.ci/run does it)."
    executable = chromium
    # Cut the network for real where we may: run Chromium in an empty network namespace (as root, or as
    # a user through a user namespace). Where neither is allowed, the resolver/proxy flags still block it.
    for unshare in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*unshare, "true"], capture_output=True).returncode == 0:
            wrapper = tmp_path_factory.mktemp("chromium") / "chromium-offline"
            wrapper.write_text(f'#!/bin/sh\nexec {" ".join(unshare)} {chromium} "$@"\n')
            wrapper.chmod(0o755)
            executable = str(wrapper)
            break
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def has_content(png: bytes) -> bool:
    """A real slide: more than a blank page or a single colour."""
    image = Image.open(io.BytesIO(png)).convert("L").resize((320, 180))
    pixels = list(image.tobytes())
    background = max(set(pixels), key=pixels.count)
    ink = sum(abs(p - background) > 40 for p in pixels) / len(pixels)
    return ink > 0.005 and len(set(pixels)) > 20


@pytest.mark.parametrize("lecture", LECTURES)
def test_deck_renders_offline_as_slides_with_maths_and_notes(decks, browser, lecture, tmp_path):
    deck = decks / f"{lecture}.slides.html"
    assert deck.exists(), f"make slides did not write {deck.name}"
    page = browser.new_page(viewport=VIEWPORT)
    outside = []

    def only_local(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    failed = []      # a local asset that is missing (e.g. pruned from MathJax) fails here
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(deck.as_uri())
    # reveal.js adds "ready" once initialised; it is an AMD module under require.js, not a global.
    page.wait_for_function("() => document.querySelector('.reveal.ready') !== null", timeout=60_000)
    page.evaluate("window.Reveal = window.Reveal || require('assets/reveal.js/dist/reveal.js')")
    assert page.evaluate("Reveal.isReady()")

    types = slide_types(lecture)
    expected = sum(t in ("slide", "subslide") for t in types)
    assert page.evaluate("Reveal.getTotalSlides()") == expected
    assert page.evaluate("document.scrollingElement.scrollHeight") <= VIEWPORT["height"] + 5, "one long page"
    first = page.screenshot()
    (tmp_path / "first.png").write_bytes(first)
    assert has_content(first), f"the first slide of {lecture} looks blank"

    # Speaker notes: one <aside class="notes"> per notes cell, and the notes plugin loaded.
    assert page.evaluate("document.querySelectorAll('aside.notes').length") == types.count("notes")
    assert page.evaluate("Reveal.hasPlugin('notes')")

    # Go to a slide with maths, and wait for MathJax to have typeset it.
    # Reveal.slide() animates: a screenshot taken mid-transition shows two half slides, faded (this
    # made the test flaky in CI). Wait for reveal's own "slidetransitionend", then for the slide to sit
    # fully inside the window at full opacity, as the audience sees it.
    found = page.evaluate("""() => new Promise(resolve => {
        // The first maths slide after the title slide.
        const slide = Reveal.getSlides().slice(1).find(s => s.querySelector('script[type^="math/tex"], .mjx-chtml'));
        if (!slide) return resolve(null);
        const at = Reveal.getIndices(slide);
        let done = false;
        Reveal.on('slidetransitionend', () => { if (!done) { done = true; resolve(at); } });
        Reveal.slide(at.h, at.v);
    })""")
    assert found is not None, f"{lecture} has no maths slide (or MathJax did not run)"
    page.wait_for_function("""() => {
        const slide = document.querySelector('.reveal .slides section.present:not(.stack)');
        if (!slide || slide.querySelectorAll('.mjx-chtml').length === 0) return false;
        const box = slide.getBoundingClientRect();
        return getComputedStyle(slide).opacity === '1' && box.left >= 0 && box.right <= window.innerWidth;
    }""", timeout=60_000)
    assert "Math Processing Error" not in page.evaluate("document.querySelector('.present').innerText")
    maths = page.screenshot()
    (tmp_path / "maths.png").write_bytes(maths)
    assert has_content(maths), f"the maths slide of {lecture} looks blank"

    assert outside == [], f"the deck tried to load from the network: {outside[:5]}"
    assert [url for url in failed if url.startswith("file:")] == [], f"local files failed to load: {failed[:5]}"
    page.close()
