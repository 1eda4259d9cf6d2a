"""The output view over the plane (issue 13 §3, §4, §5, §8): the regression surface of `plane` and
`multi_gauss` with points coloured by target, tick labels and a colour legend that a projector and a
phone can read, the discretized classification surface (a view option kept in the share link), the
neuron-focus API and the controls of the new config fields. Screenshots in test-artifacts/ui/output-*.png."""

from __future__ import annotations

import pytest
from test_playground import FAST, config_hash

PLANE = {
    "dataset": {"name": "plane", "n_samples": 240, "noise": 0},
    "model": {"hidden": [3], "activation": "tanh"},
    "optimizer": {"name": "adam", "lr": 0.03},
    "training": {"epochs": 40, "batch_size": 20, "seed": 1},
    "telemetry": {"surface_resolution": 40},
}

# median colour of the plot (CSS px, dpr 1) over a square patch around the raw point (x1, x2):
# the median keeps the surface's colour where a data point covers part of the patch
# the output's plot: raw (x1, x2) -> canvas pixel (CSS px, dpr 1) X(x), Y(y); its 2-D context g
PLOT = """const o = window.playground.output, P = o.plot, [[x0, x1], [y0, y1]] = o.bounds();
  const X = (x) => P.x + (x - x0) / (x1 - x0) * P.w, Y = (y) => P.y + P.h - (y - y0) / (y1 - y0) * P.h;
  const g = document.querySelector('#output canvas').getContext('2d');"""

PATCH = """([x, y, r]) => { @PLOT@
  const cx = Math.round(X(x)), cy = Math.round(Y(y));
  const d = g.getImageData(cx - r, cy - r, 2 * r + 1, 2 * r + 1).data;
  const ch = [[], [], []]; for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) ch[k].push(d[i + k]);
  return ch.map(a => a.sort((p, q) => p - q)[a.length >> 1]); }""".replace("@PLOT@", PLOT)

# every piece of text in the output panel: its text, font size and box
TEXTS = """() => [...document.querySelectorAll('#output *')]
  .filter(e => e.children.length === 0 && e.textContent.trim())
  .map(e => { const b = e.getBoundingClientRect();
              return {text: e.textContent, size: parseFloat(getComputedStyle(e).fontSize),
                      left: b.left, right: b.right, top: b.top, bottom: b.bottom}; })"""


def legend(p) -> dict:
    return p.js(
        """() => { const l = document.querySelector('#output .legend.scale'); const q = (s) => l.querySelector(s);
                   return {title: q('.title').textContent, lo: q('.lo') && q('.lo').textContent,
                           hi: q('.hi') && q('.hi').textContent,
                           classes: [...l.querySelectorAll('.cls')].map(e => e.textContent)}; }"""
    )


def number(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def assert_readable_inside(p):
    """Every text of the output panel is 12 px at least, inside the panel, and the x tick labels end
    above the legend (a stage short of height squeezes the panel: nothing may overlap then)."""
    box = p.page.locator("#output").bounding_box()
    for t in p.js(TEXTS):
        assert t["size"] >= 12, t
        assert box["x"] - 0.5 <= t["left"] and t["right"] <= box["x"] + box["width"] + 0.5, t
        assert box["y"] - 0.5 <= t["top"] and t["bottom"] <= box["y"] + box["height"] + 0.5, t
    ticks = p.js(
        "() => [...document.querySelectorAll('#output .tick.x:not(.name)')].map(e => e.getBoundingClientRect().bottom)"
    )
    legend_top = p.js("() => document.querySelector('#output .legend.scale').getBoundingClientRect().top")
    assert max(ticks) <= legend_top + 0.5, (ticks, legend_top)


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)], ids=["projector", "phone"])
def test_plane_regression_is_drawn_on_a_diverging_scale_with_axes_and_legend(open_page, size):
    p = open_page(config_hash(PLANE), size=size)
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.output.surface && window.playground.output.surface.epoch === 40")
    assert p.js("() => window.playground.output.surface.kind") == "regression2d"
    assert p.page.is_disabled("#discretize")  # no classes to make hard
    # R² as for sine: the figure, the chart's title and its series
    assert "R²" in p.page.text_content("#score-title") and "R²" in p.page.text_content("#fig-score-label")
    r2 = p.js("() => window.playground.records.at(-1).val_r2")
    assert r2 > 0.9
    assert p.js("() => window.playground.charts.score.ys[1].at(-1)") == pytest.approx(r2)
    # the legend: the predicted value on a symmetric scale as large as the targets ((x1 + x2) / 10)
    lg = legend(p)
    assert lg["title"] == "predicted value"
    top = max(abs(pt[2]) for pt in p.js("() => window.playground.dataView.points"))
    assert number(lg["lo"]) == pytest.approx(-top, rel=0.01) and number(lg["hi"]) == pytest.approx(top, rel=0.01)
    assert 0.9 < top <= 1.2
    # where x1 + x2 > 0 the surface is blue, where it is < 0 orange, on the diagonal near white
    r = 6 if size[0] > 500 else 8
    blue, orange, zero = (p.js(PATCH, [x, y, r]) for x, y in [(4.5, 4.5), (-4.5, -4.5), (4.5, -4.5)])
    assert blue[2] - blue[0] > 60, blue
    assert orange[0] - orange[2] > 60, orange
    assert min(zero) > 200 and abs(zero[0] - zero[2]) < 40, zero
    p.page.locator("#output").scroll_into_view_if_needed()
    p.shot(f"output-plane-{size[0]}x{size[1]}", full_page=False)
    # the training points take their target's colour on the same scale, unwashed: white at 0, the
    # legend's end colour at ±1.17 (overlapping points aside)
    hits = p.js(
        """(top) => { @PLOT@
                   return o.data.points.filter(q => q[3] === 'train').map(q => {
                     const d = g.getImageData(Math.round(X(q[0])), Math.round(Y(q[1])), 1, 1).data;
                     const f = Math.min(1, Math.abs(q[2]) / top);
                     const end = q[2] > 0 ? [8, 119, 189] : [245, 147, 34];
                     return [0, 1, 2].every(k => Math.abs(d[k] - (255 + (end[k] - 255) * f)) <= 3); }); }""".replace(
            "@PLOT@", PLOT
        ),
        top,
    )
    assert len(hits) == 120 and sum(hits) / len(hits) > 0.85, hits
    # tick labels on both axes in raw units, spanning the plane's bounds (about ±7)
    ticks = p.js(
        "() => ['x', 'y'].map(a => [...document.querySelectorAll(`#output .tick.${a}:not(.name)`)]"
        ".map(e => e.textContent))"
    )
    for labels in ticks:
        values = [number(t) for t in labels]
        assert len(values) >= 3 and values == sorted(values) and min(values) <= -4 and max(values) >= 4
    assert_readable_inside(p)
    assert p.js("() => document.documentElement.scrollWidth <= innerWidth")
    p.page.locator("#output").scroll_into_view_if_needed()
    p.shot(f"output-plane-{size[0]}x{size[1]}", full_page=False)
    assert not p.errors, p.errors


def test_multi_gauss_shows_its_bumps_and_r2(open_page):
    cfg = {
        **PLANE,
        "dataset": {"name": "multi_gauss", "n_samples": 300, "noise": 0},
        "model": {"hidden": [8, 8], "activation": "tanh"},
        "training": {"epochs": 30, "batch_size": 20, "seed": 2},
    }
    p = open_page(config_hash(cfg), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.output.surface && window.playground.output.surface.epoch === 30")
    assert p.js("() => window.playground.output.surface.kind") == "regression2d"
    assert "R²" in p.page.text_content("#score-title")
    assert all(r["val_r2"] is not None for r in p.js("() => window.playground.records.slice(1)"))
    assert legend(p)["title"] == "predicted value"
    # the bump at (-4, 2.5) is positive (blue), the one at (0, 2.5) negative (orange)
    pos, neg = p.js(PATCH, [-4, 2.5, 5]), p.js(PATCH, [0, 2.5, 5])
    assert pos[2] - pos[0] > 30 and neg[0] - neg[2] > 30, (pos, neg)
    # the output unit's thumbnail is the fitted value on a diverging scale, like the surface: the flat
    # plane between the bumps (a value near 0) is pale there, and both bumps keep their colours; read as
    # a probability it was deep orange wherever the value is below 0
    thumb = p.js(OUTPUT_THUMB)
    assert thumb["pale"] > 0.3 and thumb["blue"] > 0.01 and thumb["orange"] > 0.01, thumb
    p.page.locator("#output").scroll_into_view_if_needed()
    p.shot("output-multi-gauss-1280x720", full_page=False)
    assert not p.errors, p.errors


# shares of the output unit's thumbnail that are pale (near white), blue and orange
OUTPUT_THUMB = """async () => {
  const thumbs = document.querySelectorAll('#network image.unit-thumb');
  const img = new Image(); img.src = thumbs[thumbs.length - 1].getAttribute('href'); await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let pale = 0, blue = 0, orange = 0; const n = d.length / 4;
  for (let i = 0; i < d.length; i += 4) { const [r, gr, b] = [d[i], d[i+1], d[i+2]];
    if (Math.max(r, gr, b) - Math.min(r, gr, b) < 40 && r > 200) pale++;
    else if (b > r + 30) blue++; else if (r > b + 30) orange++; }
  return { pale: pale / n, blue: blue / n, orange: orange / n }; }"""


# the plot's colours, skipping pixels near a data point, the origin lines and the frame
PLOT_COLOURS = """() => { @PLOT@
  const pts = o.data.points.filter(q => q[3] === 'train' || o.showVal).map(q => [X(q[0]), Y(q[1])]);
  const d = g.getImageData(0, 0, o.size, o.size).data;
  const seen = new Set();
  for (let y = Math.ceil(P.y) + 2; y < P.y + P.h - 2; y += 2)
   for (let x = Math.ceil(P.x) + 2; x < P.x + P.w - 2; x += 2) {
    if (Math.abs(x - X(0)) < 3 || Math.abs(y - Y(0)) < 3) continue;
    if (pts.some(([a, b]) => (a - x) ** 2 + (b - y) ** 2 < 49)) continue;
    const i = (y * o.size + x) * 4; seen.add(`${d[i]},${d[i+1]},${d[i+2]}`); }
  return [...seen]; }""".replace("@PLOT@", PLOT)


def test_discretized_output_takes_only_class_colours_and_stays_in_the_link(open_page):
    p = open_page(config_hash(FAST), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    assert legend(p)["title"] == "P(class 1)" and legend(p)["lo"] == "0" and legend(p)["hi"] == "1"
    assert len(p.js(PLOT_COLOURS)) > 20  # probabilities: many shades
    assert p.page.is_enabled("#discretize")
    p.page.check("#discretize")
    # the two classes' colours, washed as the surface is: mix(white, class colour, 0.55)
    classes = {"250,196,133", "119,180,219"}
    seen = set(p.js(PLOT_COLOURS))
    assert seen <= classes and seen == classes, seen
    lg = legend(p)
    assert lg["title"] == "class" and lg["classes"] == ["0", "1"]
    assert "view=discretize" in p.page.url
    p.page.locator("#output").scroll_into_view_if_needed()
    p.shot("output-discretized-1280x720", full_page=False)
    # the link restores it, with the configuration
    q = open_page(p.page.url.split("/", 3)[3] and "#" + p.page.url.split("#", 1)[1], size=(1280, 720))
    assert q.page.is_checked("#discretize")
    assert q.js("() => window.playground.output.options.discretize") is True
    assert q.js("() => window.playground.state.get('dataset.n_samples')") == 200
    q.page.uncheck("#discretize")
    assert "view=" not in q.page.url
    # both languages
    q.page.click("#btn-lang")
    assert q.page.text_content("label:has(#discretize)").strip() == "discretizar la salida"
    assert legend(q)["title"] == "clase"
    assert not p.errors and not q.errors, p.errors + q.errors


def test_focus_unit_shows_one_units_response_with_its_scale(open_page):
    p = open_page(config_hash(FAST), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.output.surface && window.playground.output.surface.network")
    # the helper turns a unit's thumbnail data into focusUnit's argument
    arg = p.js("() => window.playground.output.unitFocus('fc1', 2)")
    net = p.js("() => window.playground.output.surface.network")
    assert arg["values"] == net["units"]["fc1"][2]
    assert arg["resolution"] == net["unit_resolution"]
    assert arg["bounds"] == p.js("() => window.playground.output.surface.bounds")
    top = max(abs(v) for u in net["units"]["fc1"] for v in u if v is not None)
    assert arg["max"] == pytest.approx(top) and arg["min"] == pytest.approx(-top)
    assert arg["label"] == "fc1 unit 3"
    out = p.js("() => window.playground.output.unitFocus('out', 1)")
    assert (out["min"], out["max"], out["label"]) == (0, 1, "output 2")
    assert p.js("() => window.playground.output.unitFocus('fc1', 9)") is None  # no such unit
    # shown large: the legend names the unit and its scale; the picture follows the unit's values
    p.js("() => window.playground.output.focusUnit(window.playground.output.unitFocus('fc1', 2))")
    lg = legend(p)
    assert lg["title"] == "fc1 unit 3"
    assert number(lg["lo"]) == pytest.approx(-top, rel=0.01) and number(lg["hi"]) == pytest.approx(top, rel=0.01)
    p.page.locator("#output").scroll_into_view_if_needed()
    p.shot("output-focus-fc1-3-1280x720", full_page=False)
    # a known picture: -1 on the left half, +1 on the right half of an 8x8 grid, scale -1..1
    p.js(
        """() => window.playground.output.focusUnit({values: Array.from({length: 64}, (_, i) => i % 8 < 4 ? -1 : 1),
              resolution: 8, label: 'test unit', min: -1, max: 1})"""
    )
    [[x0, x1], [y0, y1]] = p.js("() => window.playground.output.bounds()")
    left = p.js(PATCH, [x0 + (x1 - x0) * 0.2, y0 + (y1 - y0) * 0.15, 8])
    right = p.js(PATCH, [x0 + (x1 - x0) * 0.8, y0 + (y1 - y0) * 0.15, 8])
    assert left[0] > 200 and left[2] < 120, left  # orange (-1)
    assert right[2] > 150 and right[0] < 60, right  # blue (+1)
    assert legend(p)["title"] == "test unit" and legend(p)["lo"] == "\u22121"
    # leaving it returns to the network's output
    p.js("() => window.playground.output.clearFocus()")
    assert legend(p)["title"] == "P(class 1)"
    # Spanish label
    p.page.click("#btn-lang")
    assert p.js("() => window.playground.output.unitFocus('fc2', 0).label") == "fc2 unidad 1"
    assert not p.errors, p.errors


def test_new_config_fields_have_controls_kept_in_the_link(open_page):
    p = open_page(config_hash(FAST), size=(1280, 720))
    boxes = p.page.locator("[data-path='preprocessing.features'] input[type=checkbox]")
    assert boxes.count() == 7
    labels = p.js(
        "() => [...document.querySelectorAll(\"[data-path='preprocessing.features'] label\")].map(e => e.textContent)"
    )
    assert labels == ["x₁", "x₂", "x₁²", "x₂²", "x₁x₂", "sin(x₁)", "sin(x₂)"]
    checked = p.js(
        "() => [...document.querySelectorAll(\"[data-path='preprocessing.features'] input\")]"
        ".filter(b => b.checked).map(b => b.value)"
    )
    assert checked == ["x1", "x2"]
    p.page.check("[data-choice='x1_squared']")
    p.page.check("[data-choice='x2_squared']")
    p.page.uncheck("[data-choice='x1']")
    assert p.js("() => window.playground.state.get('preprocessing.features')") == ["x2", "x1_squared", "x2_squared"]
    # none left: refused at once, the last valid subset kept
    for c in ("x2", "x1_squared", "x2_squared"):
        p.page.uncheck(f"[data-choice='{c}']")
    assert p.js("() => window.playground.state.get('preprocessing.features')") == ["x2_squared"]
    assert p.page.locator("[data-path='preprocessing.features']").locator("xpath=..").locator(".err").text_content()
    assert p.js("() => window.playground.controls.invalidFields().map(f => f.path)") == ["preprocessing.features"]
    p.page.check("[data-choice='x1_squared']")
    p.page.check("[data-choice='x2_squared']")
    assert p.js("() => window.playground.controls.invalidFields()") == []
    p.page.fill("[data-path='optimizer.l1']", "0.01")
    p.page.press("[data-path='optimizer.l1']", "Enter")
    p.page.select_option("[data-path='dataset.name']", "multi_gauss")
    assert "plane" in p.js(
        "() => [...document.querySelector(\"[data-path='dataset.name']\").options].map(o => o.value)"
    )
    p.page.wait_for_function("() => window.playground.dataView && window.playground.dataView.name === 'multi_gauss'")
    # the link carries all three
    q = open_page("#" + p.page.url.split("#", 1)[1], size=(1280, 720))
    cfg = q.js("() => window.playground.state.config")
    assert cfg["preprocessing"]["features"] == ["x1_squared", "x2_squared"]
    assert cfg["optimizer"]["l1"] == 0.01 and cfg["dataset"]["name"] == "multi_gauss"
    assert q.page.is_checked("[data-choice='x1_squared']") and not q.page.is_checked("[data-choice='x1']")
    assert q.page.input_value("[data-path='optimizer.l1']") == "0.01"
    # Spanish
    q.page.click("#btn-lang")
    spanish = q.js(
        "() => [...document.querySelectorAll(\"[data-path='preprocessing.features'] label\")].map(e => e.textContent)"
    )
    assert spanish[5:] == ["sen(x₁)", "sen(x₂)"]
    row = q.page.locator("div.ctl:has([data-path='preprocessing.features']) > span").text_content()
    assert row == "entradas"
    assert_readable_inside(q)  # Spanish figure labels take two lines: the stage squeezes the panel
    q.page.locator("[data-path='preprocessing.features']").scroll_into_view_if_needed()
    q.shot("output-controls-features-es", full_page=False)
    assert not p.errors and not q.errors, p.errors + q.errors
