"""Sweeps on the playground page, in a real browser against the real server: the sweep action of a
control starts a sweep of the configuration on screen, the small-multiples view shows one output
view per variant (labelled, fed by the variant's own run websocket), the loss curves overlaid with
one series per variant, diverged variants marked, pause / resume / stop, and a click opening a
variant as an ordinary run. Screenshots at 1280x720 and 390x844."""

import httpx
from test_playground import config_hash

# the default spiral: LR 10 diverges on it (tests/ui/test_diverged_run.py), LR 0.01 does not
SPIRAL = {"training": {"epochs": 12}, "telemetry": {"surface_resolution": 30}}
PG = "window.playground"


def sweep_lr(p, frm: str, to: str, n: int) -> list[str]:
    """Start an LR sweep from the learning rate's sweep button; returns the values the dialog shows."""
    p.page.click("[data-sweep='optimizer.lr']")
    p.page.wait_for_selector("#sweep-dialog[open]")
    p.page.fill("#sweep-from", frm)
    p.page.fill("#sweep-to", to)
    p.page.fill("#sweep-n", str(n))
    p.page.select_option("#sweep-scale", "log")
    values = p.page.inner_text("#sweep-values").split(", ")
    p.page.click("#sweep-go")
    p.page.wait_for_selector("#sweep:not([hidden]) .sweep-cell")
    return values


def wait_all(p, statuses: list[str], timeout: float = 90000):
    p.page.wait_for_function(
        f"(s) => {PG}.sweeps.view.variants.every(v => s.includes(v.status))", arg=statuses, timeout=timeout
    )


def test_an_lr_sweep_from_the_controls_sweep_button_shows_one_small_multiple_per_variant(open_page, server):
    p = open_page(config_hash(SPIRAL), size=(1280, 720))
    values = sweep_lr(p, "0.01", "10", 4)
    assert values == ["0.01", "0.1", "1", "10"]
    labels = p.js("() => [...document.querySelectorAll('.sweep-cell .sweep-label b')].map(b => b.textContent)")
    assert labels == values
    runs = p.js(f"() => {PG}.sweeps.view.variants.map(v => v.run)")
    assert len(set(runs)) == 4
    # each variant is an ordinary run with the swept value in its configuration
    lrs = [httpx.get(f"{server.base}/api/runs/{r}").json()["config"]["optimizer"]["lr"] for r in runs]
    assert lrs == [0.01, 0.1, 1.0, 10.0]
    # one sweep on the server (POST /api/sweeps) lists the same runs, in variant order
    sweep = httpx.get(f"{server.base}/api/sweeps/{p.js(f'() => {PG}.sweeps.view.id')}").json()
    assert sweep["runs"] == runs
    assert [v["values"] for v in sweep["variants"]] == [{"optimizer.lr": float(v)} for v in values]

    wait_all(p, ["completed", "early_stopped", "diverged"])
    # every panel received its epochs over its own websocket and drew its surface
    epochs = p.js("() => [...document.querySelectorAll('.sweep-cell')].map(c => Number(c.dataset.epochs || 0))")
    assert all(e >= 2 for e in epochs), epochs
    p.page.wait_for_function(f"() => {PG}.sweeps.view.variants.every(v => v.out.surface && v.out.data)")
    assert p.js("() => document.querySelectorAll('.sweep-cell .sweep-out canvas').length") == 4
    # the LR-10 variant is marked diverged, the LR-0.01 one is not
    marked = p.js("() => [...document.querySelectorAll('.sweep-cell')].map(c => c.classList.contains('diverged'))")
    assert marked[3] and not marked[0], marked

    # the overlaid loss chart: one series per variant, coloured apart, with a legend naming each value
    series = p.js(f"() => {PG}.sweeps.view.chart.plot.series.slice(1).map(s => [s.label, s._stroke || s.stroke])")
    assert [s[0] for s in series] == values[:3] + ["10 ✗ diverged"]
    assert len({str(s[1]) for s in series}) == 4
    legend = p.js("() => [...document.querySelectorAll('#sweep-chart .u-legend .u-series')].map(e => e.textContent)")
    assert all(any(v in entry for entry in legend) for v in values), legend
    finite = p.js(f"() => {PG}.sweeps.view.chart.ys[0].filter(v => v != null).length")
    assert finite >= 2

    # everything is on screen at 1280x720: no cell or the chart below the fold
    bottoms = p.js(
        "() => [...document.querySelectorAll('.sweep-cell, #sweep-chart')].map(e => e.getBoundingClientRect().bottom)"
    )
    assert max(bottoms) <= 720, bottoms
    p.shot("sweep-lr-1280x720", full_page=False)

    # a click opens the variant as a run in the playground view
    p.page.click(".sweep-cell[data-k='1']")
    p.page.wait_for_function(f"(id) => {PG}.run && {PG}.run.id === id", arg=runs[1])
    assert p.js(f"() => {PG}.state.get('optimizer.lr')") == 0.1
    assert p.page.is_hidden("#sweep")
    assert p.page.is_visible("#sweep-back")
    p.page.wait_for_function(f"() => {PG}.records.length >= 2")
    p.page.click("#sweep-back")
    assert p.page.is_visible("#sweep")
    assert not p.errors, p.errors


def test_the_sweep_view_on_a_phone_is_a_two_column_grid_without_horizontal_scroll(open_page):
    p = open_page(config_hash(SPIRAL), size=(390, 844))
    p.js("() => { document.querySelector('#controls-optimizer').closest('details').open = true; }")  # folded on a phone
    sweep_lr(p, "0.001", "1", 4)
    wait_all(p, ["completed", "early_stopped", "diverged"])
    lefts = p.js(
        "() => [...document.querySelectorAll('.sweep-cell')].map(c => Math.round(c.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) == 2, lefts
    assert p.js("() => document.scrollingElement.scrollWidth") <= 390
    p.shot("sweep-lr-390x844")
    assert not p.errors, p.errors


def test_a_choice_field_sweeps_every_choice_and_the_sweep_pauses_resumes_and_stops(open_page, server):
    long = {**SPIRAL, "training": {"epochs": 3000}}
    p = open_page(config_hash(long), size=(1280, 720))
    choices = p.js(f"() => {PG}.catalog.sections.init.fields.scheme.choices")
    p.page.click("[data-sweep='init.scheme']")
    p.page.wait_for_selector("#sweep-dialog[open]")
    assert p.js("() => document.querySelectorAll('#sweep-dialog .choice input:checked').length") == len(choices)
    p.page.click("#sweep-go")
    p.page.wait_for_selector("#sweep:not([hidden]) .sweep-cell")
    assert p.js("() => document.querySelectorAll('.sweep-cell').length") == len(choices)
    # the variants train as one job: they pause and resume together
    wait_all(p, ["running"])
    p.page.click("#sweep-pause")
    wait_all(p, ["paused"])
    assert p.page.is_enabled("#sweep-resume") and p.page.is_disabled("#sweep-pause")
    p.page.click("#sweep-resume")
    wait_all(p, ["running"])
    assert p.page.is_disabled("#sweep-resume")
    p.page.click("#sweep-stop")
    wait_all(p, ["stopped"])
    runs = p.js(f"() => {PG}.sweeps.view.variants.map(v => v.run)")
    assert {httpx.get(f"{server.base}/api/runs/{r}").json()["status"] for r in runs} == {"stopped"}
    assert str(len(choices)) in p.page.inner_text("#sweep-status")
    # switching the language relabels the whole view, its header and buttons included
    english = p.page.inner_text("#sweep .sweep-head h2"), p.page.inner_text("#sweep-stop")
    p.page.click("#btn-lang")
    spanish = p.page.inner_text("#sweep .sweep-head h2"), p.page.inner_text("#sweep-stop")
    want = p.js("() => [document.documentElement.lang, document.querySelector('#sweep .chart-head h3').textContent]")
    assert want[0] == "es" and "detener" in spanish[1].lower(), (english, spanish)
    assert "método" in spanish[0].lower() and want[1] == "Pérdida de entrenamiento, cada variante", (spanish, want)
    p.page.click("#btn-lang")
    assert (p.page.inner_text("#sweep .sweep-head h2"), p.page.inner_text("#sweep-stop")) == english
    assert not p.errors, p.errors


def test_a_bad_grid_is_refused_in_the_dialog_naming_the_problem(open_page):
    p = open_page(config_hash(SPIRAL), size=(1280, 720))
    p.page.click("[data-sweep='optimizer.lr']")
    p.page.fill("#sweep-to", "50")  # above the learning rate's maximum, 10
    p.page.dispatch_event("#sweep-to", "input")
    assert p.page.is_visible("#sweep-error")
    assert "10" in p.page.inner_text("#sweep-error")
    p.page.click("#sweep-go")
    assert p.page.is_hidden("#sweep") and p.js("() => document.querySelectorAll('.sweep-cell').length") == 0
    assert not p.errors, p.errors


def test_a_sweep_lesson_starts_as_a_sweep_from_the_lesson_list(open_page, server):
    presets = httpx.get(f"{server.base}/api/presets").json()["presets"]
    full = [httpx.get(f"{server.base}/api/presets/{x['name']}").json() for x in presets]
    lesson = next(x for x in full if x.get("sweep"))  # the "too small, right, too large" learning rates
    p = open_page(size=(1280, 720))
    p.page.select_option("#preset", lesson["name"])
    p.page.wait_for_selector("#sweep:not([hidden]) .sweep-cell")
    ((axis, values),) = lesson["sweep"]["vary"].items()
    labels = p.js("() => [...document.querySelectorAll('.sweep-cell .sweep-label b')].map(b => b.textContent)")
    assert labels == [f"{v:g}" for v in values]  # [0.001, 0.1, 10]: one cell per learning rate
    runs = p.js(f"() => {PG}.sweeps.view.variants.map(v => v.run)")
    for run, value in zip(runs, values, strict=True):
        cfg = httpx.get(f"{server.base}/api/runs/{run}").json()["config"]
        assert cfg["lesson"] == lesson["name"] and cfg["optimizer"]["lr"] == value
    # the lesson box can start it again
    p.page.click("#sweep-close")
    assert p.page.is_visible("#btn-lesson-sweep")
    assert not p.errors, p.errors


def test_a_student_page_shows_the_sweep_the_teacher_broadcasts(browser, tmp_path_factory):
    from service_helpers import classroom_server

    secret = "sweep-page-teacher-secret"
    srv = classroom_server(tmp_path_factory.mktemp("sweeproom"), secret)
    teacher = {"Authorization": f"Bearer {secret}"}
    try:
        code = httpx.post(f"{srv.base}/api/rooms", headers=teacher).json()["code"]
        ctx = browser.new_context(viewport={"width": 1280, "height": 720})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.base + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        page.fill("#room-code", code)
        page.fill("#room-name", "Ana")
        page.click("#btn-join")
        page.wait_for_selector("#room-label", timeout=10000)
        body = {"base": SPIRAL, "vary": {"optimizer.lr": [0.01, 0.1, 1.0]}}
        sweep = httpx.post(f"{srv.base}/api/sweeps", json=body, headers=teacher).json()
        r = httpx.post(f"{srv.base}/api/rooms/{code}/broadcast", json={"sweep_id": sweep["id"]}, headers=teacher)
        assert r.status_code == 200, r.text
        page.wait_for_selector("#sweep:not([hidden]) .sweep-cell", timeout=20000)
        runs = page.evaluate(f"() => {PG}.sweeps.view.variants.map(v => v.run)")
        assert runs == sweep["runs"]
        page.wait_for_function(f"() => {PG}.sweeps.view.variants.every(v => v.records.length >= 2)", timeout=60000)
        assert page.is_hidden("#sweep-pause") and page.is_hidden("#sweep-stop")  # the student watches
        httpx.post(f"{srv.base}/api/rooms/{code}/broadcast", json={"run_id": None}, headers=teacher)
        page.wait_for_selector("#sweep", state="hidden", timeout=10000)
        assert not errors, errors
        ctx.close()
    finally:
        srv.stop()


def test_eight_variants_fit_a_1280x720_screen_without_scrolling(open_page):
    p = open_page(config_hash({**SPIRAL, "training": {"epochs": 3}}), size=(1280, 720))
    sweep_lr(p, "0.001", "10", 8)
    boxes = p.js(
        "() => [...document.querySelectorAll('.sweep-cell, #sweep-chart')].map(e => {"
        " const r = e.getBoundingClientRect(); return [r.left, r.right, r.bottom]; })"
    )
    assert len(boxes) == 9
    assert all(left >= 0 and right <= 1280 and bottom <= 720 for left, right, bottom in boxes), boxes
    assert p.js("() => document.getElementById('sweep').scrollHeight <= document.getElementById('sweep').clientHeight")
    wait_all(p, ["completed", "early_stopped", "diverged"])
    p.shot("sweep-8-1280x720", full_page=False)
    assert not p.errors, p.errors
