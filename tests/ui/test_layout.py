"""The layout where the app is used: a projector (1280x720) and a phone (390x844). After ▶ the output
and the loss chart are on screen without scrolling (bounding boxes), no page scrolls sideways, and
the view a lesson points to is brought into view and highlighted. Screenshots of what the viewport
shows go to test-artifacts/ui/layout-*.png."""

from __future__ import annotations

import pytest

PROJECTOR = (1280, 720)
PHONE = (390, 844)


def inside_viewport(p, selector: str) -> dict:
    """The element's box, and whether it lies wholly inside the viewport."""
    return p.js(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
             return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                     inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth}; }""",
        selector,
    )


def no_sideways_scroll(p) -> None:
    width = p.js("() => document.documentElement.scrollWidth")
    assert width <= p.js("() => innerWidth"), f"the page scrolls sideways: {width}px"
    # nor does anything stick out of the stage (it would be cut off, e.g. a long Spanish figure label)
    stage = p.js(
        "() => { const s = document.getElementById('stage'); return s ? [s.scrollWidth, s.clientWidth] : [0, 0]; }"
    )
    assert stage[0] <= stage[1], f"the stage's content is {stage[0]}px wide in {stage[1]}px"


@pytest.mark.parametrize("name,size", [("projector", PROJECTOR), ("phone", PHONE)])
def test_after_play_output_and_loss_are_on_screen(open_page, name, size):
    p = open_page(size=size)
    p.page.select_option("#preset", "vanishing-gradients")
    p.page.wait_for_selector("#lesson:not([hidden])")
    p.js("() => window.playground.state.set('training.epochs', 30)")
    no_sideways_scroll(p)
    p.shot(f"layout-{name}-before", full_page=False)
    p.page.click("#btn-play")
    p.page.wait_for_function("() => window.playground.records.length > 5", timeout=60000)
    p.page.wait_for_timeout(600)  # the scroll and the redraws settle
    for sel in ("#output canvas", "#chart-loss canvas", "#fig-val"):
        box = inside_viewport(p, sel)
        assert box["inside"], f"{name}: {sel} is not on screen after ▶: {box}"
    if name == "projector":
        # the lesson stays readable, and the chart it points to is on screen and highlighted
        assert inside_viewport(p, "#lesson")["inside"]
        assert p.js("() => document.getElementById('card-grad').classList.contains('look-here')")
        assert inside_viewport(p, "#card-grad")["inside"]
        assert p.page.is_visible(".topbar .speed > span") and p.page.is_visible(".topbar .preset > span")
        # chart text is readable from the back of the room: no axis or legend text under 13 px
        sizes = p.js("""() => [...document.querySelectorAll('.u-legend, .u-legend th, .fig, .fig-label, .hist-layer')]
                         .map(e => parseFloat(getComputedStyle(e).fontSize))""")
        assert min(sizes) >= 12, sizes
    no_sideways_scroll(p)
    p.wait_status("completed")
    p.page.wait_for_timeout(400)
    p.shot(f"layout-{name}-after", full_page=False)
    p.shot(f"layout-{name}-page")
    assert not p.errors


@pytest.mark.parametrize("preset", ["vanishing-gradients", "lr-schedule"])
def test_pinned_lesson_leaves_the_chart_titles_uncovered(open_page, preset):
    # projector: ▶ scrolls the chart the lesson points to (first chart row) just under the pinned lesson box;
    # at the end of the run the box grows by its measured claims and must still not cover a chart title
    p = open_page(size=PROJECTOR)
    p.page.select_option("#preset", preset)
    p.page.wait_for_selector("#lesson:not([hidden])")
    p.js("() => window.playground.state.set('training.epochs', 12)")
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_selector("#lesson-claims li")
    p.page.wait_for_timeout(400)
    p.shot(f"layout-projector-lesson-{preset}", full_page=False)
    lesson = p.js("() => document.getElementById('lesson').getBoundingClientRect().bottom")
    titles = p.js(
        """() => [...document.querySelectorAll('.chart-card .chart-head h3')].map((h) => {
             const r = h.getBoundingClientRect();
             return {id: h.closest('.chart-card').id, top: r.top, bottom: r.bottom}; })
           .filter((r) => r.bottom > 0 && r.top < innerHeight)"""
    )
    target = p.js("() => document.querySelector('.look-here').id")
    assert target in [t["id"] for t in titles], (target, titles)  # the row it points to is on screen
    for t in titles:
        assert t["top"] >= lesson, f"the lesson box (bottom {lesson}px) covers the chart title {t}"
    assert not p.errors


def test_six_layers_keep_the_output_column_whole(open_page):
    p = open_page(size=PROJECTOR)
    for _ in range(4):
        p.page.click("#btn-layer-add")
    assert p.js("() => window.playground.state.get('model.hidden').length") == 6
    no_sideways_scroll(p)
    box = inside_viewport(p, "#output")
    assert box["right"] <= 1280 and box["left"] >= 0
    assert inside_viewport(p, "#chart-loss")["right"] <= 1280
    p.shot("layout-projector-six-layers", full_page=False)


@pytest.mark.parametrize("name,size", [("projector", PROJECTOR), ("phone", PHONE)])
def test_no_page_scrolls_sideways(open_page, server, name, size):
    p = open_page(size=size)
    no_sideways_scroll(p)
    if name == "phone":
        # controls fold into sections on a phone; opening one shows its fields
        assert p.js("() => [...document.querySelectorAll('details.fold')].every(d => !d.open)")
        p.page.click("summary:has([data-i18n='sec.opt'])")
        assert p.page.is_visible("[data-path='optimizer.lr']")
        no_sideways_scroll(p)
    lab = open_page(size=size, path="/lab")
    no_sideways_scroll(lab)
    assert inside_viewport(lab, "#plot")["right"] <= size[0]
    lab.shot(f"layout-{name}-lab", full_page=False)


@pytest.fixture(scope="module")
def classroom_server(tmp_path_factory):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
    from service_helpers import Server

    srv = Server(tmp_path_factory.mktemp("room-ui") / "room.db", workers=1, extra=["--classroom"]).start()
    yield srv
    srv.stop()


def test_the_join_box_fits_a_phone(browser, classroom_server):
    from conftest import Page

    p = Page(browser, classroom_server, size=PHONE)
    try:
        p.page.wait_for_selector("#room-code", timeout=10000)
        no_sideways_scroll(p)
        for sel in ("#room-code", "#room-name", "#btn-join"):
            box = inside_viewport(p, sel)
            assert box["left"] >= 0 and box["right"] <= PHONE[0], (sel, box)
        p.shot("layout-phone-join", full_page=False)
        assert not p.errors
    finally:
        p.close()


@pytest.mark.parametrize("name,size", [("projector", PROJECTOR), ("phone", PHONE)])
def test_spanish_fits_too(open_page, name, size):
    p = open_page(size=size)
    p.page.click("#btn-lang")
    p.page.select_option("#preset", "batch-norm")
    p.page.wait_for_selector("#lesson:not([hidden])")
    assert "Mirá" in p.page.inner_text("#lesson")
    no_sideways_scroll(p)
    if name == "projector":  # the longer Spanish labels keep the top bar on one row
        assert p.js("() => document.querySelector('.topbar').offsetHeight") <= 64
        assert inside_viewport(p, "#output canvas")["inside"] and inside_viewport(p, "#chart-loss canvas")["inside"]
    p.shot(f"layout-{name}-spanish", full_page=False)
