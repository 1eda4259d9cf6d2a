"""The playground in a real browser against the real server: controls, a live run, the views,
bad input, shared links, run control, own data, and the lesson presets."""

import base64
import json

import httpx
import pytest

FAST = {
    "dataset": {"name": "circle", "n_samples": 200},
    "model": {"hidden": [4, 3], "activation": "tanh"},
    "optimizer": {"name": "adam", "lr": 0.03},
    "training": {"epochs": 25, "batch_size": 20},
    "telemetry": {"surface_resolution": 40},
}


def config_hash(cfg: dict) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(cfg).encode()).decode().rstrip("=")
    return "#c=" + raw


def canvas_colours(page, selector: str) -> int:
    """Distinct colours on a canvas: a drawn surface has many, a blank one a handful."""
    return page.js(
        """(sel) => { const c = document.querySelector(sel); const d = c.getContext('2d')
               .getImageData(0, 0, c.width, c.height).data; const s = new Set();
               for (let i = 0; i < d.length; i += 4 * 7) s.add(d[i] << 16 | d[i+1] << 8 | d[i+2]); return s.size; }""",
        selector,
    )


def test_controls_come_from_the_catalog(open_page, server):
    p = open_page()
    catalog = httpx.get(server.base + "/api/catalog").json()
    paths = set(p.js("() => [...document.querySelectorAll('[data-path]')].map(e => e.dataset.path)"))
    for section, spec in catalog["sections"].items():
        for field in spec["fields"]:
            if f"{section}.{field}" in ("dataset.points", "model.hidden"):
                continue  # drawn on the plane / the layer widget
            assert f"{section}.{field}" in paths, f"no control for {section}.{field}"
    # irrelevant options are hidden: momentum only shows for the momentum optimizers
    momentum = "document.querySelector('[data-path=\"optimizer.momentum\"]').closest('.ctl').hidden"
    assert p.js(f"() => {momentum}") is True
    p.page.select_option("[data-path='optimizer.name']", "momentum")
    assert p.js(f"() => {momentum}") is False
    assert not p.errors
    assert all(u.startswith(server.base) or u.startswith("data:") for u in p.requests), "page loaded from elsewhere"


def test_a_run_streams_into_every_view(open_page, server):
    p = open_page(config_hash(FAST))
    assert p.js("() => window.playground.state.get('model.hidden')") == [4, 3]
    p.page.click("#btn-play")
    p.wait_status("completed")
    pg = "window.playground"
    assert p.page.inner_text("#epoch").endswith("025")
    assert p.js(f"() => {pg}.charts.loss.x.length") == 26  # epoch 0 to 25
    assert p.js(f"() => {pg}.charts.grad.series.map(s => s.label)") == ["fc1", "fc2", "out"]
    assert p.js(f"() => {pg}.charts.lr.ys[0].every(v => v === 0.03)")
    # streamed values are the server's: the last record equals /metrics
    run_id = p.js(f"() => {pg}.run.id")
    metrics = httpx.get(f"{server.base}/api/runs/{run_id}/metrics").json()["epochs"]
    assert p.js(f"() => {pg}.records.at(-1).val_loss") == metrics[-1]["val_loss"]
    assert canvas_colours(p, "#output canvas") > 50  # the decision surface is painted
    links = p.js("() => [...document.querySelectorAll('#network path')].map(e => e.getAttribute('stroke'))")
    assert len(links) == 2 * 4 + 4 * 3 + 3 * 2 and {"#f59322", "#0877bd"} <= set(links)
    # unit thumbnails: 4 + 3 hidden units and the 2 output units (each class's probability over the plane)
    assert p.js("() => document.querySelectorAll('#network image.unit-thumb').length") == 4 + 3 + 2
    # and each of the seven input features its own (issue 13)
    assert p.js("() => document.querySelectorAll('#network image.feature-thumb').length") == 7
    assert p.js("() => document.querySelectorAll('.hist-layer').length") == 3
    assert "completed" in p.page.inner_text("#status")
    assert p.page.inner_text("#fig-val") != "–"
    assert run_id[:8] in p.page.inner_text("#runs")
    p.page.wait_for_timeout(1000)  # the stream stays open after the end: no "connection lost" message
    assert p.page.locator("#toast").is_hidden()
    p.shot("run-completed")
    assert not p.errors


def test_bad_input_is_named_and_nothing_is_lost(open_page, server):
    p = open_page(config_hash(FAST))
    lr = "[data-path='optimizer.lr']"
    p.page.fill(lr, "-1")
    p.page.press(lr, "Tab")
    assert "more than 0" in p.page.inner_text("label.ctl.invalid")
    assert p.js("() => window.playground.state.get('optimizer.lr')") == 0.03  # the last good value stays
    # ▶ refuses while a box shows a rejected value (it would train at 0.03 with -1 on screen), and says why
    before = httpx.get(server.base + "/api/runs").json()["total"]
    p.page.click("#btn-play")
    p.page.wait_for_selector("#toast:not([hidden])")
    assert "learning rate: more than 0" in p.page.inner_text("#toast")
    assert p.js("() => window.playground.run") is None
    assert p.page.input_value(lr) == "-1" and "more than 0" in p.page.inner_text("label.ctl.invalid")
    # a change elsewhere keeps the rejected box as it is: ▶ still refuses
    p.page.select_option("[data-path='model.activation']", "relu")
    assert p.page.input_value(lr) == "-1"
    p.page.click("#btn-play")
    p.page.wait_for_timeout(300)
    assert p.js("() => window.playground.run") is None
    assert httpx.get(server.base + "/api/runs").json()["total"] == before
    p.page.fill(lr, "0.03")
    p.page.press(lr, "Tab")
    assert p.page.locator("label.ctl.invalid").count() == 0
    # a rule only the server knows: per-layer activations must match the layer count -> 422 shown
    p.js("() => window.playground.state.set('model.activations', ['relu'])")
    p.page.click("#btn-play")
    p.page.wait_for_function("() => document.querySelector('#toast').textContent.includes('invalid configuration')")
    field = p.page.locator("label.ctl.invalid:has([data-path='model.activations'])")
    assert "one entry per hidden layer" in field.inner_text()  # shown next to the field it names
    assert httpx.get(server.base + "/api/runs").json()["total"] == before
    p.shot("bad-input")


@pytest.mark.parametrize(
    "path,bad,message,good",
    [
        ("training.epochs", "0", "at least 1", "25"),  # a whole number below its bound (Training)
        ("dataset.n_samples", "5", "at least 10", "200"),  # another section (Data)
        ("model.dropouts", "0.2, abc", "item 2: a number is needed", ""),  # a list field
    ],
)
def test_play_refuses_while_any_kind_of_field_is_invalid(open_page, server, path, bad, message, good):
    """Issue 12 §4: ▶ never trains on a value other than the one shown, for every kind of field; the
    refusal names the field (its label) and what is wrong."""
    p = open_page(config_hash(FAST))
    box = f"[data-path='{path}']"
    p.js("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    label = p.js(f"async () => (await import('/app/i18n.js')).fieldLabel('{path}')")
    shown = p.js(f"() => window.playground.state.get('{path}')")
    p.page.fill(box, bad)
    p.page.press(box, "Tab")
    assert message in p.page.locator(f"label.ctl.invalid:has({box})").inner_text()
    assert p.js(f"() => window.playground.state.get('{path}')") == shown  # the last good value stays
    before = httpx.get(server.base + "/api/runs").json()["total"]
    p.page.click("#btn-play")
    p.page.wait_for_selector("#toast:not([hidden])")
    assert f"{label}: {message}" in p.page.inner_text("#toast")
    p.page.wait_for_timeout(300)
    assert p.js("() => window.playground.run") is None
    assert httpx.get(server.base + "/api/runs").json()["total"] == before
    assert p.page.input_value(box) == bad
    # fixed, the box is accepted and the refusal is gone
    p.page.fill(box, good)
    p.page.press(box, "Tab")
    assert p.page.locator("label.ctl.invalid").count() == 0
    assert not p.js("() => window.playground.controls.invalidFields().length")
    assert not p.errors


def test_shared_link_round_trips(open_page):
    p = open_page()
    p.page.select_option("[data-path='model.activation']", "sigmoid")
    p.page.click("#btn-layer-add")
    url = p.page.url
    q = open_page(url[url.index("#") :])
    assert q.js("() => window.playground.state.get('model.activation')") == "sigmoid"
    assert q.js("() => window.playground.state.get('model.hidden')") == [8, 8, 8]
    assert q.page.input_value("[data-path='model.activation']") == "sigmoid"


def test_pause_step_resume_and_keyboard(open_page):
    p = open_page(config_hash({**FAST, "training": {"epochs": 400, "batch_size": 20}}))
    p.page.locator("#speed").fill("3")  # 5 epochs/s
    p.js("() => document.activeElement.blur()")  # shortcuts are off while typing in a field
    p.page.keyboard.press("Space")
    p.wait_status("running")
    p.page.wait_for_function("() => window.playground.records.length > 2")
    p.page.keyboard.press("Space")
    p.wait_status("paused")
    p.page.wait_for_timeout(500)
    e0 = p.js("() => window.playground.records.at(-1).epoch")
    p.page.keyboard.press("s")
    p.page.wait_for_function("(e) => window.playground.records.at(-1).epoch === e + 1", arg=e0)
    p.page.wait_for_timeout(700)
    assert p.js("() => window.playground.records.at(-1).epoch") == e0 + 1  # exactly one epoch
    p.page.click("#btn-stop")
    p.wait_status("stopped")
    assert not p.errors


def test_drawing_points_makes_a_custom_data_set(open_page):
    p = open_page(config_hash(FAST))
    p.page.check("#draw")
    before = p.js("() => window.playground.dataView.points.length")
    box = p.page.locator("#output canvas").bounding_box()
    p.page.mouse.click(box["x"] + 50, box["y"] + 50)
    p.page.keyboard.down("Shift")
    p.page.mouse.click(box["x"] + 350, box["y"] + 350)
    p.page.keyboard.up("Shift")
    p.page.wait_for_function("(n) => window.playground.dataView.points.length === n + 2", arg=before)
    assert p.js("() => window.playground.state.get('dataset.name')") == "custom"
    labels = p.js("() => window.playground.state.get('dataset.points').slice(-2).map(r => r[2])")
    assert labels == [1, 0]
    p.shot("drawn-points")


def test_lessons_digits_and_mc_dropout(open_page):
    p = open_page()
    p.page.select_option("#preset", "dropout-mc")
    p.page.wait_for_selector("#lesson:not([hidden])")
    assert "Dropout" in p.page.inner_text("#lesson")
    p.page.click("#btn-lang")
    assert "apaga" in p.page.inner_text("#lesson")  # the Spanish explanation
    p.page.fill("[data-path='training.epochs']", "15")
    p.page.press("[data-path='training.epochs']", "Tab")
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.check("#show-mc")
    p.page.wait_for_selector("#output .legend:has-text('dispersión de MC dropout')")  # the page is in Spanish
    assert canvas_colours(p, "#output canvas") > 20
    p.shot("mc-dropout")
    # digits: the output is a grid of validation images with predictions
    p.page.select_option("#preset", "augmentation-digits")
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.images")
    assert p.js("() => document.querySelectorAll('#aug-preview canvas').length") == 8
    p.page.fill("[data-path='training.epochs']", "3")
    p.page.press("[data-path='training.epochs']", "Tab")
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_selector(".images figcaption:has-text('%')")
    p.shot("digits")
    assert not p.errors


def test_scrubber_and_baseline(open_page, server):
    p = open_page(config_hash(FAST))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.click("#btn-pin")
    assert "baseline" in p.page.inner_text("#baseline-label")
    p.page.locator("#scrubber").fill("5")
    p.page.wait_for_function("() => document.querySelector('#scrub-label').textContent === 'epoch 5'")
    p.page.wait_for_function("() => window.playground.output.surface && window.playground.output.surface.epoch <= 5")
    p.page.wait_for_function("() => window.playground.histograms.history.at(-1).epoch <= 5")
    p.page.click("#btn-live")  # back to the end: the later histograms are all still there
    p.page.wait_for_function("() => window.playground.histograms.history.at(-1).epoch === 25")
    p.page.select_option("[data-path='optimizer.name']", "sgd")  # a new run against the baseline
    p.page.click("#btn-play")
    p.wait_status("completed")
    labels = p.js("() => window.playground.charts.loss.plot.series.map(s => s.label)")
    assert "validation (baseline)" in labels
    p.shot("baseline")


def test_continue_from_a_past_epoch(open_page, server):
    p = open_page(config_hash(FAST))
    p.page.click("#btn-play")
    p.wait_status("completed")
    source = p.js("() => window.playground.run.id")
    p.page.locator("#scrubber").fill("10")
    p.page.wait_for_function("() => !document.querySelector('#btn-restore').disabled")
    p.page.click("#btn-restore")
    p.page.wait_for_function("(s) => window.playground.run && window.playground.run.id !== s", arg=source)
    p.wait_status("completed")
    run = httpx.get(f"{server.base}/api/runs/{p.js('() => window.playground.run.id')}").json()
    assert run["submitted_config"]["transfer"] == {
        "source": source,
        "strategy": "continue",
        "epoch": 10,
        "k": 1,
        "feature_lr_scale": 1.0,
    }
    src_metrics = httpx.get(f"{server.base}/api/runs/{source}/metrics").json()["epochs"]
    assert p.js("() => window.playground.records[0].val_loss") == src_metrics[10]["val_loss"]


def test_language_switch_and_lesson_now_try(open_page):
    p = open_page()
    p.js("() => localStorage.setItem('nnpLang', 'en')")
    p.page.reload()
    p.page.wait_for_selector("body[data-ready='1']")
    p.page.select_option("#preset", "batch-norm")
    p.page.wait_for_selector("#btn-try")
    assert p.js("() => window.playground.state.get('model.batch_norm')") is True
    p.page.click("#btn-try")  # "now try: batch norm off"
    assert p.js("() => window.playground.state.get('model.batch_norm')") is False
    assert p.page.inner_text("[data-i18n='sec.opt']") == "Optimizer"
    p.page.click("#btn-lang")
    assert p.page.inner_text("[data-i18n='sec.opt']") == "Optimizador"
    assert "tasa de aprendizaje" in p.page.inner_text("#controls-optimizer")
    assert "Mirá" in p.page.inner_text("#lesson")
    p.shot("spanish")
    p.page.click("#btn-lang")
    assert "learning rate" in p.page.inner_text("#controls-optimizer")
    assert not p.errors


def test_optimizer_lab(open_page, server):
    p = open_page()
    p.page.goto(server.base + "/lab")
    p.page.wait_for_selector("body[data-ready='1']")
    assert "adam: f =" in p.page.inner_text("#finals")
    p.page.select_option("#fn", "quadratic")
    p.page.wait_for_function("() => document.querySelector('#finals').textContent.includes('momentum')")
    p.shot("optimizer-lab")
    assert not p.errors


def test_vanishing_gradients_lesson_then_batch_norm(open_page, server):
    p = open_page()
    p.page.select_option("#preset", "vanishing-gradients")
    p.page.wait_for_function("() => window.playground.state.get('model.activation') === 'sigmoid'")
    p.page.fill("[data-path='training.epochs']", "8")
    p.page.press("[data-path='training.epochs']", "Tab")
    p.page.click("#btn-play")
    p.wait_status("completed")
    g = p.js("() => window.playground.records[0].grad_norm")
    assert g["fc1"] * 10 < g["fc6"]  # what the lesson is about, in the streamed data
    # ...and said in words under the lesson, measured on this run
    claim = p.page.wait_for_selector("#lesson-claims li[data-claim='first-layer-gradient-vanishes']")
    assert claim.get_attribute("class") == "holds" and "fc1's gradient norm is" in claim.inner_text()
    assert claim.inner_text().startswith("✓")
    p.shot("vanishing-gradients")
    first = p.js("() => window.playground.run.id")
    p.page.check("[data-path='model.batch_norm']")  # toggling resets; the next run carries the new config
    p.page.click("#btn-play")
    p.page.wait_for_function("(s) => window.playground.run && window.playground.run.id !== s", arg=first)
    p.wait_status("completed")
    run = httpx.get(f"{server.base}/api/runs/{p.js('() => window.playground.run.id')}").json()
    assert run["config"]["model"]["batch_norm"] is True and run["config"]["model"]["activation"] == "sigmoid"


def test_early_stopping_marker(open_page):
    p = open_page()
    p.page.select_option("#preset", "overfitting-sine")
    p.page.wait_for_function("() => window.playground.state.get('dataset.name') === 'moons'")
    p.page.click("#btn-play")
    p.wait_status("early_stopped")
    # the lesson's claims, measured on this run, under the lesson text: the stop and the restore are exact
    p.page.wait_for_selector("#lesson-claims li[data-claim='restores-best']")
    items = p.js(
        "() => [...document.querySelectorAll('#lesson-claims li')].map(li => [li.dataset.claim, li.className])"
    )
    assert [i for i, _ in items] == [
        "validation-turns-up",
        "training-keeps-falling",
        "best-after-warm-up",
        "stops-after-patience",
        "restores-best",
    ]
    assert dict(items)["stops-after-patience"] == "holds" and dict(items)["restores-best"] == "holds"
    assert "validation loss rose" in p.page.inner_text("#lesson-claims")
    assert "early-stopped at" in p.page.inner_text("#status")
    labels = p.js("() => window.playground.charts.loss.markers.map(m => m.label)")
    assert "early stop" in labels and "best" in labels
    # restore_best: the view shows the best epoch's model, the one the run hands back
    best = p.js("() => window.playground.markers.find(m => m.kind === 'restore_best').restored_epoch")
    p.page.wait_for_function(
        "(e) => window.playground.output.surface && window.playground.output.surface.epoch === e", arg=best
    )
    assert p.page.inner_text("#scrub-label") == f"epoch {best}"
    p.shot("early-stopping")


def test_csv_upload_makes_a_tabular_data_set(open_page, tmp_path):
    p = open_page(config_hash(FAST))
    rows = ["a,b,c,label"] + [f"{i % 7},{(i * 3) % 5},{i % 2},{int(i % 7 > 3)}" for i in range(40)]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n1,x,1\n")
    p.page.set_input_files("#csv", str(bad))
    p.page.wait_for_selector("#toast:not([hidden])")
    assert "row 2" in p.page.inner_text("#toast") and "number" in p.page.inner_text("#toast")
    good = tmp_path / "good.csv"
    good.write_text("\n".join(rows) + "\n")
    p.page.set_input_files("#csv", str(good))
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.input_shape[0] === 3")
    assert p.js("() => window.playground.state.get('dataset.name')") == "custom"
    assert "2 classes" in p.page.inner_text("#data-hint")
    p.page.click("#btn-play")
    p.wait_status("completed")
    assert p.page.locator("#output table.confusion").count() == 1  # tabular data: a confusion matrix


def test_a_dropped_connection_is_said_and_resumed(open_page):
    p = open_page(config_hash({**FAST, "training": {"epochs": 300, "batch_size": 20}}))
    p.page.locator("#speed").fill("4")  # 10 epochs/s
    p.page.click("#btn-play")
    p.page.wait_for_function("() => window.playground.records.length > 3")
    p.js("() => window.playground.stream.ws.close()")  # the network drops the socket
    p.page.wait_for_selector("#toast:has-text('reconnecting')")
    p.page.wait_for_selector("#toast:has-text('Reconnected')", timeout=10000)
    seen = p.js("() => window.playground.records.length")
    p.page.wait_for_function("(n) => window.playground.records.length > n + 3", arg=seen)
    epochs = p.js("() => window.playground.records.map(r => r.epoch)")
    assert epochs == list(range(len(epochs)))  # nothing missed, nothing twice (?since=E)
    p.page.click("#btn-stop")
    p.wait_status("stopped")


def test_open_a_past_run_from_the_list(open_page, server):
    cfg = {**FAST, "model": {"hidden": [5], "activation": "sigmoid"}, "training": {"epochs": 12, "batch_size": 20}}
    run_id = httpx.post(server.base + "/api/runs", json=cfg).json()["id"]
    p = open_page()
    p.page.wait_for_function(
        "(id) => document.querySelector('#runs').textContent.includes(id.slice(0, 8))", arg=run_id, timeout=20000
    )
    p.page.wait_for_function(
        "(id) => fetch('/api/runs/' + id).then(r => r.json()).then(r => r.status === 'completed')",
        arg=run_id,
        timeout=30000,
    )
    p.page.locator("#runs tr", has_text=run_id[:8]).click()
    p.page.wait_for_function("(id) => window.playground.run && window.playground.run.id === id", arg=run_id)
    p.page.wait_for_function("() => window.playground.records.length === 13")
    assert p.js("() => window.playground.state.get('model.activation')") == "sigmoid"
    assert p.js("() => window.playground.state.get('model.hidden')") == [5]
    assert "completed" in p.page.inner_text("#status")
