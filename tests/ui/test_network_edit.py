"""The network diagram as an instrument (issue 13): input features toggled on their nodes, a unit
focused in the output view on hover, a weight edited on a paused run, a hidden unit knocked out, and
L1's vanished links. Real server, real Chromium. Screenshots in test-artifacts/ui/netedit-*.png."""

from __future__ import annotations

import base64
import json

import httpx
from test_playground import config_hash

CIRCLE = {"dataset": {"name": "circle", "n_samples": 200}, "model": {"hidden": [4], "activation": "tanh"}}


def hash_config(url: str) -> dict:
    raw = url.split("#c=", 1)[1].split("&")[0]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def features(p) -> list[str]:
    return p.js("() => window.playground.state.get('preprocessing.features')")


def test_clicking_an_input_node_toggles_the_feature_and_the_next_run_uses_it(open_page, server):
    p = open_page(config_hash({**CIRCLE, "model": {"hidden": []}, "training": {"epochs": 30}}), size=(1280, 720))
    nodes = p.js(
        "() => [...document.querySelectorAll('#network .feature')]"
        ".map(g => [g.dataset.feature, g.classList.contains('on')])"
    )
    assert nodes == [
        ["x1", True],
        ["x2", True],
        ["x1_squared", False],
        ["x2_squared", False],
        ["x1_times_x2", False],
        ["sin_x1", False],
        ["sin_x2", False],
    ]
    # each feature's own thumbnail: seven different pictures
    hrefs = p.js(
        "() => [...document.querySelectorAll('#network image.feature-thumb')].map(e => e.getAttribute('href'))"
    )
    assert len(hrefs) == 7 and len(set(hrefs)) == 7
    p.page.click("#network [data-feature='x1_squared']")
    p.page.click("#network [data-feature='x2_squared']")
    p.page.click("#network [data-feature='x1']")
    p.page.click("#network [data-feature='x2']")
    assert features(p) == ["x1_squared", "x2_squared"]
    assert hash_config(p.page.url)["preprocessing"]["features"] == ["x1_squared", "x2_squared"]
    # the control shows what the diagram set (the same config, one source)
    ticked = p.js(
        "() => [...document.querySelectorAll(\"[data-path='preprocessing.features'] input\")]"
        ".filter(b => b.checked).map(b => b.value)"
    )
    assert ticked == ["x1_squared", "x2_squared"]
    # the last feature in use stays, and the toast says why
    p.page.click("#network [data-feature='x1_squared']")
    p.page.click("#network [data-feature='x2_squared']")
    assert features(p) == ["x2_squared"]
    assert p.page.is_visible("#toast") and "x₂²" in p.page.text_content("#toast")
    p.page.click("#network [data-feature='x1_squared']")
    assert features(p) == ["x1_squared", "x2_squared"]
    # a third feature: the output view stays the plane's (it once became a confusion matrix)
    p.page.click("#network [data-feature='x1_times_x2']")
    p.page.wait_for_function("() => window.playground.dataView.points && document.querySelector('#output canvas')")
    assert p.js("() => window.playground.dataView.input_shape") == [2]
    assert features(p) == ["x1_squared", "x2_squared", "x1_times_x2"]
    p.page.click("#network [data-feature='x1_times_x2']")
    # a shared link opens with the same features
    q = open_page(p.page.url[p.page.url.index("#") :], size=(1280, 720))
    assert features(q) == ["x1_squared", "x2_squared"]
    q.close()

    p.page.click("#btn-play")
    p.wait_status("completed")
    run_id = p.js("() => window.playground.run.id")
    run = httpx.get(f"{server.base}/api/runs/{run_id}").json()
    assert run["config"]["preprocessing"]["features"] == ["x1_squared", "x2_squared"]
    p.page.wait_for_function("() => window.playground.lastNetwork")
    # the first layer's links leave the two features in use only, each with its weight's colour
    links = p.js(
        """() => [...document.querySelectorAll('#network path.link[data-layer="out"]')]
                  .map(e => [Number(e.dataset.to), Number(e.dataset.from)])"""
    )
    assert sorted(links) == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # squares and no hidden layer separate the circle (a line in x1, x2 stays near chance) in 30 epochs
    assert p.js("() => window.playground.records.at(-1).val_acc") >= 0.9
    p.shot("netedit-features-1280", full_page=False)
    assert not p.errors


def test_a_phone_shows_the_feature_nodes_and_the_knockout_mode(open_page):
    p = open_page(config_hash({**CIRCLE, "training": {"epochs": 6}}), size=(390, 844))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.lastNetwork")
    p.page.click("#network .knock-mode")
    p.page.click("#network .unit-hit[data-unit='fc1·2']")  # knock-out mode: a plain click (a tap) knocks out
    p.page.wait_for_selector("#knockout-note:not([hidden])")
    assert p.page.locator("#network path.knocked").count() == 1
    box = p.page.locator("#network svg").bounding_box()
    assert box["width"] <= 390  # the diagram fits the phone's width
    p.page.locator("#network").scroll_into_view_if_needed()
    p.shot("netedit-phone-390", full_page=False)
    assert not p.errors


def test_hovering_a_unit_focuses_it_in_the_output_view(open_page):
    p = open_page(config_hash({**CIRCLE, "training": {"epochs": 6}}), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.lastNetwork")
    # record the output view's focus calls (and still make them)
    p.js(
        """() => { const o = window.playground.output; window.calls = [];
                   const f = o.focusUnit, c = o.clearFocus;
                   o.focusUnit = (a) => { window.calls.push(['focus', a.label, a.values, a.resolution, a.min, a.max]);
                                          return f && f.call(o, a); };
                   o.clearFocus = () => { window.calls.push(['clear']); return c && c.call(o); }; }"""
    )
    p.page.hover("#network .unit-hit[data-unit='fc1·3']")
    p.page.wait_for_function("() => window.calls.length > 0")
    call = p.js("() => window.calls[0]")
    net = p.js("() => window.playground.lastNetwork")
    assert call[:2] == ["focus", "fc1·3"]
    assert call[2] == net["units"]["fc1"][2]  # that unit's response over the plane
    assert call[3] == net["unit_resolution"] and call[4] == -call[5] and call[5] > 0
    p.page.hover("#network .unit-hit[data-unit='out·2']")
    p.page.mouse.move(2, 2)
    calls = p.js("() => window.calls.map(c => c.slice(0, 2))")
    assert ["focus", "out·2"] in calls and calls[-1] == ["clear"]
    out = [c for c in p.js("() => window.calls") if c[:2] == ["focus", "out·2"]][0]
    assert (out[4], out[5]) == (0, 1)  # an output unit: its class's probability
    assert not p.errors


def test_editing_a_weight_of_a_paused_run(open_page, server):
    p = open_page(config_hash({**CIRCLE, "training": {"epochs": 400}}), size=(1280, 720))
    p.page.locator("#speed").fill("3")
    p.page.click("#btn-play")
    p.page.wait_for_function("() => window.playground.records.length > 2 && window.playground.lastNetwork")
    p.page.click("#btn-play")
    p.wait_status("paused")
    p.page.wait_for_timeout(400)
    run_id = p.js("() => window.playground.run.id")
    # a link of the first layer: unit 2 from x2 (input 1), clicked where no other link crosses it
    link = '#network path.link-hit[data-layer="fc1"][data-to="1"][data-from="1"]'
    p.page.locator(link).scroll_into_view_if_needed()
    xy = p.js(
        """(sel) => { const e = document.querySelector(sel), n = e.getTotalLength();
                     for (let f = 0.3; f < 0.95; f += 0.05) {
                       const q = e.getPointAtLength(f * n), m = e.getScreenCTM();
                       const x = m.a * q.x + m.e, y = m.d * q.y + m.f;
                       if (document.elementFromPoint(x, y) === e) return [x, y];
                     } }""",
        link,
    )
    p.page.mouse.click(*xy)
    p.page.wait_for_selector(".weight-editor input")
    p.page.fill(".weight-editor input", "2000000")
    p.page.click(".weight-editor button[type=submit]")
    p.page.wait_for_function("() => document.querySelector('.weight-editor .editor-error').textContent")
    assert "value" in p.page.text_content(".weight-editor .editor-error")  # the server's 422 names the field
    p.page.fill(".weight-editor input", "-5")
    p.page.click(".weight-editor button[type=submit]")
    p.page.wait_for_selector(".weight-editor", state="detached")
    # shown at once: the link is orange (negative) and the widest of its layer (|w| = 5 is the largest)
    path = p.js(
        """() => { const e = document.querySelector('#network path.link[data-layer="fc1"][data-to="1"][data-from="1"]');
                   return [e.getAttribute('stroke'), Number(e.getAttribute('stroke-width'))]; }"""
    )
    assert p.js("() => window.playground.lastNetwork.weights.fc1[1][1]") == -5
    assert path[0] == p.js("() => getComputedStyle(document.documentElement).getPropertyValue('--orange').trim()")
    assert path[1] == 4.0
    p.page.wait_for_function("() => window.playground.markers.some(m => m.kind === 'weight_edit')")
    marker = p.js("() => window.playground.markers.find(m => m.kind === 'weight_edit')")
    assert marker["layer"] == "fc1" and marker["index"] == [1, 1] and marker["new"] == -5
    # the charts draw it with its short label
    p.page.wait_for_function("() => window.playground.charts.loss.labels.some(l => l.includes('w edited'))")
    # a bias: the square at a unit's bottom left
    p.page.click("#network rect.bias[data-unit='out·1']")
    p.page.fill(".weight-editor input", "0.25")
    # resumed elsewhere before the edit is sent: the 409 is shown next to the editor
    httpx.post(f"{server.base}/api/runs/{run_id}/resume")
    p.wait_status("running")
    p.page.click(".weight-editor button[type=submit]")
    p.page.wait_for_function("() => document.querySelector('.weight-editor .editor-error').textContent")
    assert "paused" in p.page.text_content(".weight-editor .editor-error")
    p.page.click("#btn-play")
    p.wait_status("paused")
    p.page.locator("#network").scroll_into_view_if_needed()
    p.shot("netedit-weight-1280", full_page=False)
    p.page.click("#btn-stop")
    p.wait_status("stopped")
    # the browser logs the two refused requests (422, 409) it showed; nothing else went wrong
    assert [e for e in p.errors if "status of 422" not in e and "status of 409" not in e] == []


def test_knocking_out_a_unit_shows_the_validation_figures_without_it(open_page, server):
    p = open_page(config_hash({**CIRCLE, "training": {"epochs": 12}}), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.lastNetwork")
    run_id = p.js("() => window.playground.run.id")
    before = p.js("() => window.playground.output.surface.values")
    p.page.click("#network .unit-hit[data-unit='fc1·1']", modifiers=["Shift"])
    p.page.wait_for_selector("#knockout-note:not([hidden])")
    answer = httpx.post(
        f"{server.base}/api/runs/{run_id}/predict", json={"inputs": [], "knockout": [{"layer": "fc1", "unit": 0}]}
    ).json()
    intact = httpx.post(f"{server.base}/api/runs/{run_id}/predict", json={"inputs": []}).json()
    note = p.page.text_content("#knockout-note")
    assert f"{intact['val_acc'] * 100:.1f}% → {answer['val_acc'] * 100:.1f}%" in note
    assert "fc1·1" in note
    assert float(p.js("() => document.getElementById('knockout-note').dataset.valScore")) == answer["val_acc"]
    assert p.page.locator("#network path.knocked[data-unit='fc1·1']").count() == 1
    assert p.js("() => window.playground.output.surface.values") != before  # the output without the unit
    p.page.locator("#stage").scroll_into_view_if_needed()
    p.shot("netedit-knockout-1280", full_page=False)
    # again: restored
    p.page.click("#network .unit-hit[data-unit='fc1·1']", modifiers=["Shift"])
    p.page.wait_for_selector("#knockout-note", state="hidden")
    assert p.page.locator("#network path.knocked").count() == 0
    assert p.js("() => window.playground.output.surface.values") == before
    # a past epoch (scrubber): the knock-out is that checkpoint's
    p.page.locator("#scrubber").fill("4")
    p.page.wait_for_function("() => window.playground.scrubEpoch === 4 && window.playground.output.surface.epoch === 4")
    p.page.click("#network .unit-hit[data-unit='fc1·2']", modifiers=["Alt"])
    p.page.wait_for_selector("#knockout-note:not([hidden])")
    past = httpx.post(
        f"{server.base}/api/runs/{run_id}/predict",
        json={"inputs": [], "epoch": 4, "knockout": [{"layer": "fc1", "unit": 1}]},
    ).json()
    assert float(p.js("() => document.getElementById('knockout-note').dataset.valScore")) == past["val_acc"]
    assert not p.errors


def test_l1_links_vanish_and_each_layer_shows_its_share_of_zeros(open_page):
    cfg = {**CIRCLE, "model": {"hidden": [8], "activation": "tanh"}, "training": {"epochs": 25}}
    cfg["optimizer"] = {"name": "adam", "lr": 0.03, "l1": 0.02}
    p = open_page(config_hash(cfg), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.lastNetwork")
    got = p.js(
        """() => { const pg = window.playground, w = pg.lastNetwork.weights.fc1;
                   return {zero: w.flat().filter(v => Math.abs(v) < 0.01).length,
                           dotted: document.querySelectorAll('#network path.link.zero[data-layer="fc1"]').length,
                           frac: pg.records.at(-1).zero_fraction.fc1,
                           label: document.querySelector('#network .zero-frac[data-layer="fc1"]')
                                    .firstChild.nodeValue}; }"""
    )
    assert got["zero"] > 0  # L1 did zero some weights
    assert got["dotted"] == got["zero"]
    assert got["label"] == f"≈0: {round(got['frac'] * 100)}%"
    p.page.locator("#network").scroll_into_view_if_needed()
    p.shot("netedit-l1-1280", full_page=False)
    assert not p.errors
