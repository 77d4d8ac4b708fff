"""The offline slide decks (`make slides`), rendered in headless Chromium with the network cut off.

For every lecture: reveal.js reports itself ready with the notebook's number of
slides, the page is one slide (not one long page), the first slide and a maths
slide render with visible content and typeset maths, speaker notes are there,
and the page requested nothing but local files.

And every slide fits the screen (house style: the deck is what a lecturer projects, not the
notebook paged): at 1280 x 720, each slide and sub-slide, all fragments shown, has nothing
below, above or beside the slide area, no code block or output that scrolls or clips, type no
smaller than 16 px and figures at no less than 60 % of their size. slides/README.md says how
an author marks cells for the deck.
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess

import nbformat
import pytest
from chromium import CHROMIUM_ARGS, system_chromium
from nbgrader_course import ROOT
from PIL import Image

pytestmark = pytest.mark.slow

LECTURES = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VIEWPORT = {"width": 1280, "height": 720}
# Decks not yet converted to slides that fit: a temporary state only. Their fit test is expected
# to fail (strict: once a deck fits, the test fails until its name leaves this set).
FIT_NOT_YET: set[str] = set()
FIT_TOLERANCE_PX = 4  # sub-pixel rounding, a focus outline
MIN_TEXT_PX = 16  # prose, tables, code and printouts, as drawn on the 1280 x 720 screen
MIN_FIGURE_SCALE = 0.6  # a figure drawn at less than this share of its size is unreadable
# Flags Chromium needs as root in a container, and to keep it from calling home on a closed network.
OFFLINE_CHROMIUM_ARGS = [
    *CHROMIUM_ARGS,
    # Belt and braces: even if the namespace below is unavailable, no host name resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def slide_types(lecture: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{lecture}.ipynb").read_text())
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in nb["cells"]]


def deck_notes(lecture: str) -> int:
    """How many notes cells the deck has: the notebook's, plus what the cell tags send there."""
    spec = importlib.util.spec_from_file_location("slides_build", ROOT / "slides" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    nb = nbformat.read(ROOT / "notebooks" / f"{lecture}.ipynb", as_version=4)
    return [build.slide_type(c) for c in build.deck_cells(nb.cells)].count("notes")


@pytest.fixture(scope="module")
def decks():
    result = subprocess.run(
        ["make", "slides"], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return ROOT / "slides" / "build"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    chromium = system_chromium("The slide tests")
    executable = chromium
    # Cut the network for real where we may: run Chromium in an empty network namespace (as root, or
    # as a user through a user namespace). Where neither is allowed, the resolver/proxy flags still
    # block it.
    for unshare in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*unshare, "true"], capture_output=True).returncode == 0:
            wrapper = tmp_path_factory.mktemp("chromium") / "chromium-offline"
            wrapper.write_text(f'#!/bin/sh\nexec {" ".join(unshare)} {chromium} "$@"\n')
            wrapper.chmod(0o755)
            executable = str(wrapper)
            break
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=OFFLINE_CHROMIUM_ARGS, headless=True
        )
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
    assert page.evaluate("document.scrollingElement.scrollHeight") <= VIEWPORT["height"] + 5, (
        "one long page"
    )
    first = page.screenshot()
    (tmp_path / "first.png").write_bytes(first)
    assert has_content(first), f"the first slide of {lecture} looks blank"

    # Speaker notes: one <aside class="notes"> per notes cell (the notebook's, and the cells and
    # paragraphs that slide-notes and slide-outline send there), and the notes plugin loaded.
    assert types.count("notes") <= deck_notes(lecture)
    assert page.evaluate("document.querySelectorAll('aside.notes').length") == deck_notes(lecture)
    assert page.evaluate("Reveal.hasPlugin('notes')")

    # Go to a slide with maths, and wait for MathJax to have typeset it. Reveal.slide() animates: a
    # screenshot taken mid-transition shows two half slides, faded (this made the test flaky in CI).
    # Wait for reveal's own "slidetransitionend", then for the slide to sit fully inside the window
    # at full opacity, as the audience sees it.
    found = page.evaluate("""() => new Promise(resolve => {
        // The first maths slide after the title slide.
        const slide = Reveal.getSlides().slice(1).find(
            s => s.querySelector('script[type^="math/tex"], .mjx-chtml'));
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
        return getComputedStyle(slide).opacity === '1'
            && box.left >= 0 && box.right <= window.innerWidth;
    }""", timeout=60_000)
    assert "Math Processing Error" not in page.evaluate(
        "document.querySelector('.present').innerText"
    )
    maths = page.screenshot()
    (tmp_path / "maths.png").write_bytes(maths)
    assert has_content(maths), f"the maths slide of {lecture} looks blank"

    assert outside == [], f"the deck tried to load from the network: {outside[:5]}"
    assert [url for url in failed if url.startswith("file:")] == [], (
        f"local files failed to load: {failed[:5]}"
    )
    page.close()


# Every slide and sub-slide in turn, all its fragments shown, no transition: where its content
# reaches past the slide area, the smallest type on it, the smallest figure scale.
MEASURE_SLIDES = """async () => {
    Reveal.configure({transition: 'none', backgroundTransition: 'none'});
    const typeset = () => new Promise(done => MathJax.Hub.Queue(done));
    const frame = () => new Promise(done => requestAnimationFrame(() => setTimeout(done, 50)));
    const name = el => el.tagName.toLowerCase()
        + (typeof el.className === 'string' && el.className.trim()
           ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
    await typeset();
    const records = [];
    for (const slide of Reveal.getSlides()) {
        const at = Reveal.getIndices(slide);
        Reveal.slide(at.h, at.v, slide.querySelectorAll('.fragment').length);
        await typeset();
        await Promise.all(Array.from(slide.querySelectorAll('img'), img => img.complete ? null
            : new Promise(done => { img.onload = img.onerror = done; })));
        await frame();
        const slides = document.querySelector('.reveal .slides');
        const box = slides.getBoundingClientRect();
        const scale = box.width / slides.offsetWidth;  // reveal.js scales the slide to the window
        const area = {left: Math.max(box.left, 0), top: Math.max(box.top, 0),
                      right: Math.min(box.right, innerWidth),
                      bottom: Math.min(box.bottom, innerHeight)};
        const record = {h: at.h, v: at.v, below: 0, right: 0, above: 0, left: 0, worst: '', by: 0,
                        text: Infinity, smallest: '', figure: Infinity};
        const past = (el, below, right, above, left) => {
            record.below = Math.max(record.below, below);
            record.right = Math.max(record.right, right);
            record.above = Math.max(record.above, above);
            record.left = Math.max(record.left, left);
            const by = Math.max(below, right, above, left);
            if (by > record.by) { record.by = by; record.worst = name(el); }
        };
        for (const el of [slide, ...slide.querySelectorAll('*')]) {
            if (el.closest('aside.notes, script, style, .MJX_Assistive_MathML, .MathJax_Preview')
                || el.getClientRects().length === 0) continue;  // not shown on the slide
            const b = el.getBoundingClientRect();
            past(el, b.bottom - area.bottom, b.right - area.right,
                 area.top - b.top, area.left - b.left);
            const style = getComputedStyle(el);
            // A box that scrolls or clips: what it holds beyond its edges is not on the slide.
            if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
                past(el, (el.scrollHeight - el.clientHeight) * scale,
                     (el.scrollWidth - el.clientWidth) * scale, 0, 0);
            }
            if (el.tagName === 'IMG' && el.naturalWidth) {
                record.figure = Math.min(record.figure, b.width / el.naturalWidth);
            }
            const text = Array.from(el.childNodes).some(
                n => n.nodeType === 3 && n.textContent.trim());
            if (text && !el.closest('.mjx-chtml, sub, sup')) {
                const size = parseFloat(style.fontSize) * scale;
                if (size < record.text) { record.text = size; record.smallest = name(el); }
            }
        }
        const heading = slide.querySelector('h1, h2, h3, h4');
        const line = (heading || slide).innerText.trim().split('\\n')[0];
        record.title = (line || '(a figure)').slice(0, 50);
        records.push(record);
    }
    Reveal.slide(0, 0);
    return records;
}"""


def slide_problems(record: dict) -> list[str]:
    """What keeps one slide (a MEASURE_SLIDES record) from fitting the screen, in words."""
    where = f'slide {record["h"]}.{record["v"]} "{record["title"]}"'
    sides = {
        "below": "below the slide",
        "right": "past its right edge",
        "above": "above it",
        "left": "past its left edge",
    }
    over = [
        f"{round(record[side])} px {words}"
        for side, words in sides.items()
        if record[side] > FIT_TOLERANCE_PX
    ]
    problems = [f"{where}: {', '.join(over)} ({record['worst']})"] if over else []
    if record["text"] < MIN_TEXT_PX:
        problems.append(f"{where}: {record['text']:.1f} px type ({record['smallest']})")
    if record["figure"] < MIN_FIGURE_SCALE:
        problems.append(f"{where}: a figure drawn at {record['figure']:.0%} of its size")
    return problems


NOT_YET = pytest.mark.xfail(strict=True, reason="deck not yet converted to fit (FIT_NOT_YET)")


@pytest.mark.parametrize(
    "lecture",
    [
        pytest.param(lecture, marks=NOT_YET) if lecture in FIT_NOT_YET else lecture
        for lecture in LECTURES
    ],
)
def test_every_slide_fits_the_screen(decks, browser, lecture):
    page = browser.new_page(viewport=VIEWPORT)
    page.route(lambda url: not url.startswith("file:"), lambda route: route.abort())  # offline
    page.goto((decks / f"{lecture}.slides.html").as_uri())
    page.wait_for_function("() => document.querySelector('.reveal.ready') !== null", timeout=60_000)
    page.evaluate("window.Reveal = window.Reveal || require('assets/reveal.js/dist/reveal.js')")
    records = page.evaluate(MEASURE_SLIDES)
    page.close()
    assert len(records) == sum(t in ("slide", "subslide") for t in slide_types(lecture))
    problems = [problem for record in records for problem in slide_problems(record)]
    misfits = sum(bool(slide_problems(record)) for record in records)
    assert not problems, (
        f"{misfits} of the {len(records)} slides of {lecture} do not fit a 1280 x 720 screen "
        f"(slides/README.md says how to mark cells for the deck):\n" + "\n".join(problems)
    )
