"""Browser tests: the real server (`nnplayground serve` in a subprocess) driven by Playwright in
Debian's Chromium. Screenshots go to test-artifacts/ui/ (look at them: ugly counts as broken)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from service_helpers import Server  # noqa: E402

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("ui") / "ui.db", workers=2).start()
    yield srv
    srv.stop()


class Page:
    """A page of the playground with its console errors and every request it made."""

    def __init__(self, browser, server, hash_: str = "", size: tuple[int, int] = (1500, 1250), path: str = "/"):
        self.ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(server.base + path + hash_)
        self.page.wait_for_selector("body[data-ready='1']", timeout=20000)

    def shot(self, name: str, full_page: bool = True) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def wait_status(self, *statuses: str, timeout: float = 60000):
        self.page.wait_for_function(
            "(s) => window.playground.run && s.includes(window.playground.run.status)",
            arg=list(statuses),
            timeout=timeout,
        )

    def close(self):
        self.ctx.close()


@pytest.fixture
def open_page(browser, server):
    pages = []

    def make(hash_: str = "", **kw) -> Page:
        p = Page(browser, server, hash_, **kw)
        pages.append(p)
        return p

    yield make
    for p in pages:
        p.close()
