"""Controls that must not lie or surprise (issue 12, section 4) and the views that were blank or
garbled (section 3: a constant accuracy, histogram ranges), each in the real browser against the
real server."""

from __future__ import annotations

import httpx
from test_playground import FAST, config_hash


def test_scrubbing_moves_the_figures_and_marks_the_charts(open_page):
    p = open_page(config_hash(FAST))
    p.page.click("#btn-play")
    p.wait_status("completed")
    last = p.js("() => window.playground.records.at(-1)")
    at5 = p.js("() => window.playground.records.find(r => r.epoch === 5)")
    assert p.page.inner_text("#fig-val") == f"{last['val_loss']:.4f}"
    p.page.locator("#scrubber").fill("5")
    p.page.wait_for_function("() => document.querySelector('#scrub-label').textContent === 'epoch 5'")
    assert p.page.inner_text("#fig-train") == f"{at5['train_loss']:.4f}"
    assert p.page.inner_text("#fig-val") == f"{at5['val_loss']:.4f}"
    assert p.page.inner_text("#fig-score") == f"{at5['val_acc'] * 100:.1f}%"
    for chart in ("loss", "score", "grad", "lr"):
        assert p.js(f"() => window.playground.charts.{chart}.cursorEpoch") == 5
    p.page.wait_for_function("() => (window.playground.charts.loss.labels || []).includes('epoch 5')")
    p.shot("scrubbed-epoch-5", full_page=False)
    p.page.click("#btn-live")
    assert p.page.inner_text("#fig-val") == f"{last['val_loss']:.4f}"
    assert p.js("() => window.playground.charts.loss.cursorEpoch") is None


def test_continue_from_here_counts_on_and_leaves_transfer_off(open_page, server):
    p = open_page(config_hash(FAST))
    p.page.click("#btn-play")
    p.wait_status("completed")
    source = p.js("() => window.playground.run.id")
    p.page.locator("#scrubber").fill("10")
    p.page.wait_for_function("() => !document.querySelector('#btn-restore').disabled")
    p.page.click("#btn-restore")
    p.page.wait_for_function("(s) => window.playground.run && window.playground.run.id !== s", arg=source)
    p.wait_status("completed")
    # the branch's epochs go on from 10: counter, chart axis; the source's curves stay as a baseline
    assert p.js("() => window.playground.charts.loss.x[0]") == 10
    assert p.js("() => window.playground.charts.loss.x.at(-1)") == 10 + 25
    assert p.page.inner_text("#epoch") == "000,035"
    assert p.js("() => window.playground.baseline.id") == source
    # transfer was this run's start only: the controls and the next run have it off
    assert p.js("() => window.playground.state.get('transfer')") is None
    assert p.js("() => window.playground.state.diff().transfer") is None  # nor does the address bar carry it
    branch = p.js("() => window.playground.run.id")
    p.page.click("#btn-play")
    p.page.wait_for_function("(s) => window.playground.run && window.playground.run.id !== s", arg=branch)
    p.wait_status("completed")
    run = httpx.get(f"{server.base}/api/runs/{p.js('() => window.playground.run.id')}").json()
    assert run["submitted_config"].get("transfer") is None
    assert p.js("() => window.playground.charts.loss.x[0]") == 0


def test_drawn_points_stay_where_they_are_and_visible(open_page):
    p = open_page(config_hash(FAST))
    p.page.check("#draw")
    box = p.page.locator("#output canvas").bounding_box()
    before = p.js("() => window.playground.dataView.points.map(q => [q[0], q[1]])")
    clicks = [(40, 40), (box["width"] - 40, 40), (60, box["height"] - 50)]
    sides = {}
    for i, (x, y) in enumerate(clicks):
        p.page.mouse.click(box["x"] + x, box["y"] + y)
        p.page.wait_for_function("(n) => window.playground.dataView.points.length === n", arg=len(before) + i + 1)
        now = {(q[0], q[1], q[2]): q[3] for q in p.js("() => window.playground.dataView.points")}
        # from the first click on the points are the student's own: no later click moves one between splits
        assert all(now[k] == v for k, v in sides.items()), f"click {i + 1} moved points between train and val"
        sides = now
    after = p.js("() => window.playground.dataView.points")
    coords = {(round(q[0], 3), round(q[1], 3)) for q in after}
    # every point that was on screen is still there, at its place; the new ones too
    assert {(round(x, 3), round(y, 3)) for x, y in before} <= coords
    drawn = p.js("() => window.playground.state.get('dataset.points').slice(-3)")
    assert all((q[0], q[1]) in coords for q in drawn)
    # and every one is drawn, validation points included, though "validation points" is off
    assert not p.page.is_checked("#show-val")
    assert p.js("() => window.playground.output.drawn") == len(after)
    p.shot("drawn-points-all-visible", full_page=False)


def test_custom_without_data_and_honest_labels(open_page, server):
    p = open_page(config_hash(FAST))
    p.page.wait_for_function("() => window.playground.dataView")  # the preview is fetched after ready
    n = p.js("() => window.playground.dataView.points.length")
    p.page.select_option("[data-path='dataset.name']", "custom")
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.name === 'custom'")
    assert p.js("() => window.playground.dataView.points.length") == n  # the points on screen, now the student's
    assert p.page.is_checked("#draw")
    assert "toast info" in p.js("() => document.querySelector('#toast').className")
    assert "digit" not in p.page.inner_text("#toast").lower()
    # wine has 178 samples: the box says so
    p.page.select_option("[data-path='dataset.name']", "wine")
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.name === 'wine'")
    p.page.wait_for_function("() => document.querySelector(\"[data-path='dataset.n_samples']\").value === '178'")
    assert p.js("() => window.playground.dataView.n_train + window.playground.dataView.n_val") == 178
    # custom on data that cannot be drawn on: a hint, and the data set stays
    q = open_page(config_hash({"dataset": {"name": "wine"}}))  # chosen before its data has even loaded
    q.page.select_option("[data-path='dataset.name']", "custom")
    q.page.wait_for_function("() => document.querySelector('#toast').textContent.includes('CSV')")
    assert q.js("() => window.playground.state.get('dataset.name')") == "wine"
    assert q.page.input_value("[data-path='dataset.name']") == "wine"
    # the digits CNN: conv layers are counted, and one layer is "layer"
    p.page.select_option("[data-path='dataset.name']", "digits")
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.name === 'digits'")
    p.js("() => window.playground.state.set('model.hidden', [32])")
    assert p.page.inner_text("#layers-label") == "2 conv layers + 1 hidden layer"
    # the zero-init lesson names the initialization its button applies
    z = httpx.get(server.base + "/api/presets/zero-init").json()
    assert z["try"]["config"]["init"]["scheme"] in z["en"] and z["try"]["config"]["init"]["scheme"] in z["es"]


def test_press_play_note_leaves_the_points_free(open_page):
    p = open_page(config_hash(FAST))
    note = p.page.locator("#output .empty.note").bounding_box()
    canvas = p.page.locator("#output canvas").bounding_box()
    assert note["y"] + note["height"] <= canvas["y"] + 0.12 * canvas["height"]  # a corner label, not across the cloud
    assert note["width"] < 0.5 * canvas["width"]


def test_the_first_waiting_run_is_number_one(open_page, server):
    slow = {**FAST, "training": {"epochs": 500, "batch_size": 20}}
    # every slot of the two workers (two each) busy with other clients' runs
    busy = [
        httpx.post(server.base + "/api/runs?speed=1", json=slow, headers={"X-Client-Id": f"other-{i}"}).json()["id"]
        for i in range(4)
    ]
    try:
        p = open_page(config_hash(slow))
        p.page.locator("#speed").fill("1")
        p.page.click("#btn-play")
        p.wait_status("queued")
        assert p.js("() => window.playground.run.position") == 1
        assert p.page.inner_text("#status") == "queued (#1)"
        p.page.click("#btn-stop")
        p.wait_status("stopped")
    finally:
        for run_id in busy:
            httpx.post(f"{server.base}/api/runs/{run_id}/stop")


def test_a_run_whose_loss_exploded_says_so(open_page):
    # the case: the defaults on gauss with LR 10 end at val loss 1,035,298 ("completed")
    cfg = {"dataset": {"name": "gauss"}, "optimizer": {"lr": 10}, "training": {"epochs": 20}}
    p = open_page(config_hash(cfg))
    p.page.click("#btn-play")
    p.wait_status("completed", "diverged")
    if p.js("() => window.playground.run.status") == "completed":
        first, last = p.js("() => [window.playground.records[0].val_loss, window.playground.records.at(-1).val_loss]")
        assert last > 10 * first  # the case of the issue: a "completed" run that did not learn
        assert p.page.inner_text("#status") == "completed: loss exploded"
        p.page.wait_for_function("() => document.querySelector('#toast').textContent.includes('did not learn')")
    p.shot("loss-exploded", full_page=False)


def test_a_constant_accuracy_is_drawn(open_page):
    # a learning rate so small that nothing changes: the accuracy is the same every epoch
    cfg = {**FAST, "optimizer": {"name": "sgd", "lr": 1e-9}, "training": {"epochs": 6, "batch_size": 20}}
    p = open_page(config_hash(cfg))
    p.page.click("#btn-play")
    p.wait_status("completed")
    accs = p.js("() => window.playground.records.map(r => r.val_acc)")
    assert len(set(accs)) == 1
    lo, hi = p.js(
        "() => [window.playground.charts.score.plot.scales.y.min, window.playground.charts.score.plot.scales.y.max]"
    )
    assert lo < accs[0] < hi
    p.page.wait_for_timeout(300)
    blue = p.js("""() => { const c = document.querySelector('#chart-score canvas'); const d = c.getContext('2d')
                   .getImageData(0, 0, c.width, c.height).data; let n = 0;
                   for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 8) < 30 && Math.abs(d[i+1] - 119) < 30
                       && Math.abs(d[i+2] - 189) < 30) n++; return n; }""")
    assert blue > 50  # the validation line is drawn across the chart


def test_histograms_on_a_common_x_range(open_page):
    p = open_page(config_hash(FAST))
    p.page.click("#btn-play")
    p.wait_status("completed")
    assert p.js("() => window.playground.histograms.range") is None
    p.page.check("#hist-shared")
    p.page.wait_for_function("() => window.playground.histograms.range !== null")
    lo, hi = p.js("() => window.playground.histograms.range")
    layers = p.js("""() => { const h = window.playground.histograms.history; const out = [];
                     for (const e of h) for (const l of Object.values(e.layers))
                       if (l.pre) out.push([l.pre.min, l.pre.max]);
                     return out; }""")
    assert lo == min(a for a, _ in layers) and hi == max(b for _, b in layers)
    p.page.locator("#card-hist").scroll_into_view_if_needed()
    p.shot("histograms-common-range", full_page=False)


def test_optimizer_lab_steps_errors_legend_race(open_page, server):
    p = open_page(path="/lab")
    rows = p.js("() => document.querySelectorAll('#finals .lab-legend-row').length")
    assert rows == p.js("() => document.querySelectorAll('#opts tbody tr').length") == 5
    assert p.js("() => document.querySelectorAll('#finals .swatch').length") == 5
    # the paths race: part of them first, all of them later
    p.page.select_option("#fn", "quadratic")
    p.page.wait_for_function("() => Number(document.querySelector('#plot').dataset.shown) < 30", timeout=5000)
    p.page.wait_for_function("() => Number(document.querySelector('#plot').dataset.shown) === 61", timeout=8000)
    # the steps box shows what is used
    p.page.fill("#steps", "100000")
    p.page.press("#steps", "Tab")
    limit = p.js("() => document.querySelector('#steps').max")  # the server's limit
    assert p.page.input_value("#steps") == limit
    assert f"1 to {limit}: {limit} are used" in p.page.inner_text("#steps-note")
    # an error clears the old plot and says why
    p.page.fill("#opts tbody tr:first-child input[type=number]", "-1")
    p.page.press("#opts tbody tr:first-child input[type=number]", "Tab")
    p.page.wait_for_function("() => !document.querySelector('#finals .lab-legend-row')")
    assert "lr" in p.page.inner_text("#finals")
    p.shot("lab-error", full_page=False)


def test_a_lesson_link_opens_the_lesson_with_only_its_sections(open_page):
    p = open_page()
    p.page.select_option("#preset", "batch-norm")
    p.page.wait_for_selector("#btn-lesson-link")
    p.page.click("#btn-lesson-link")
    url = p.page.url
    assert "lesson=batch-norm" in url and "hide=" in url
    q = open_page(url[url.index("#") :])
    q.page.wait_for_selector("#lesson:not([hidden])")
    assert q.page.input_value("#preset") == "batch-norm"
    assert q.js("() => window.playground.state.get('model.batch_norm')") is True
    assert q.page.is_visible("#hidden-note")
    assert not q.page.is_visible("[data-path='schedule.name']")  # the lesson does not touch the schedule
    assert q.page.is_visible("[data-path='model.batch_norm']")
    q.shot("lesson-link", full_page=False)
    q.page.click("#btn-showall")
    assert q.page.is_visible("[data-path='schedule.name']")
    assert "hide=" not in q.page.url and "lesson=batch-norm" in q.page.url
    assert not q.errors


def test_many_lr_cuts_are_one_readable_label(open_page):
    # plateau with patience 0 cuts the LR at almost every epoch: the "fence" of the issue
    cfg = {
        **FAST,
        "schedule": {"name": "plateau", "patience": 0, "factor": 0.8, "min_lr": 1e-6},
        "training": {"epochs": 40, "batch_size": 20},
    }
    p = open_page(config_hash(cfg))
    p.page.click("#btn-play")
    p.wait_status("completed")
    cuts = p.js("() => window.playground.markers.filter(m => m.kind === 'lr_change').length")
    assert cuts >= 5
    p.page.wait_for_timeout(300)
    labels = p.js("() => window.playground.charts.lr.labels")
    assert len(labels) < cuts and any("LR↓ ×" in label for label in labels)
    assert sum(int(lb.split("×")[1]) if "×" in lb else 1 for lb in labels) == cuts  # every cut is counted
    p.page.locator("#card-lr").scroll_into_view_if_needed()
    p.shot("lr-cuts-merged", full_page=False)
