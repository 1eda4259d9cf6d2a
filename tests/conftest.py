"""Shared fixtures. The built-in transfer source is cached on disk: the suite keeps its copy out of the
user's home. Browser tests drive Debian's Chromium through Playwright (never a browser download)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("NNPLAYGROUND_CACHE", os.path.join(tempfile.gettempdir(), "nnplayground-test-cache"))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")  # closed with its module: Playwright's loop must not outlive it
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
