"""The system Chromium, as the browser tests launch it (Playwright's own download is not used)."""

from __future__ import annotations

import shutil

# Headless and quiet: no GPU, no first-run pages, no background updates or sync.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def system_chromium(needed_for: str) -> str:
    """The path of the system Chromium; fails the test with the install command if there is none."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, (
        f"{needed_for} needs Chromium: `apt-get install chromium` (.ci/run does it).")
    return chromium
