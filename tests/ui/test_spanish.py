"""Spanish everywhere (issue 12 §6): every page walked in Spanish (the playground before and after a
run, so that its views are drawn; the optimizer lab after a run; the teacher's dashboard with a room)
shows no English: visible text nodes, placeholders, tooltips (title attributes and SVG titles), aria-labels and the
text drawn on canvases (chart markers, histogram labels) are collected and checked against English
words. Names (ReLU, SGD, Adam, Xavier, He, MC dropout...), numbers and units are allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from service_helpers import classroom_server
from test_playground import config_hash

SECRET = "spanish-walk-secret"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

# Words that are English and not Spanish, as the pages would use them.
ENGLISH = set(
    """the and of to with from for is are was be been this that these those it its your you our
    epoch epochs loss losses training train validation run runs running completed stopped failed
    dead saturated same range more less least most none fitted curve layer layers unit units weight weights
    accuracy or see press click show shows hide hidden learning rate step steps value values needed
    number whole item items best input output parameters parameter samples points point class classes
    error errors invalid field fields server reached highlighted start stop pause resume share copy copied
    room rooms name student students teacher lesson lessons look try now link data set sets noise seed
    add remove chart charts legend path paths minimum started waiting queued new old here there when
    gradient gradients norm norms update updates ratio histogram histograms pre activation activations
    decision surface predicted true pred confusion matrix baseline pinned export download""".split()
)
ALLOWED = {"relu", "sgd", "adam", "adamw", "xavier", "he", "mc", "dropout", "tanh", "sigmoid", "softmax",
           "nesterov", "momentum", "rmsprop", "adagrad", "lr", "nnplayground", "csv", "json", "python",
           "torchscript", "state_dict", "leaky_relu", "gelu", "elu", "cnn", "mlp", "id", "max", "min", "nan",
           "inf", "l2", "std", "x", "y"}  # fmt: skip

COLLECT = """() => {
  const out = [];
  const visible = (el) => el && !el.closest('[hidden], script, style, noscript, datalist, option:not(:checked)')
    && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode;
    const el = n.parentElement;
    const svgTitle = el && el.tagName.toLowerCase() === 'title';
    if (!svgTitle && !visible(el)) continue;
    const s = n.textContent.trim();
    if (s) out.push(s);
  }
  for (const e of document.querySelectorAll('[placeholder]')) if (visible(e)) out.push(e.placeholder);
  for (const e of document.querySelectorAll('[title]')) if (visible(e)) out.push(e.title);
  // what a screen reader says, hidden or not (a hidden control may be shown later)
  for (const e of document.querySelectorAll('[aria-label]')) out.push(e.getAttribute('aria-label'));
  return out.concat(window.__canvasText || []);
}"""

# every fillText on a canvas, recorded (chart markers, histogram and lab labels live on canvases)
RECORD_CANVAS = """(() => {
  window.__canvasText = [];
  const orig = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    if (window.__canvasText.length < 5000) window.__canvasText.push(String(text));
    return orig.call(this, text, ...rest);
  };
})();"""


# technique names the Spanish course uses as they are
PHRASES = ("batch norm", "weight decay", "early stopping")


def english(strings: list[str]) -> list[str]:
    found = []
    for s in set(strings):
        plain = re.sub(r'"[^"]*"', "", s)  # quoted JSON keys in an example configuration
        for phrase in PHRASES:
            plain = re.sub(phrase, "", plain, flags=re.IGNORECASE)
        words = {w.lower() for w in re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñÑü_]+", plain)}
        bad = (words & ENGLISH) - ALLOWED
        if bad:
            found.append(f"{s!r} ({', '.join(sorted(bad))})")
    return sorted(found)


@pytest.fixture(scope="module")
def room_server(tmp_path_factory):
    srv = classroom_server(tmp_path_factory.mktemp("es"), SECRET)
    yield srv
    srv.stop()


def spanish_page(browser, server, path: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="es-AR")
    page = ctx.new_page()
    page.add_init_script("localStorage.nnpLang = 'es';" + RECORD_CANVAS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base + path)
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    return ctx, page, errors


def test_every_page_in_spanish_has_no_english(browser, room_server, tmp_path):
    found: dict[str, list[str]] = {}
    # the playground: before a run, after a run (views, charts, histograms drawn), a rejected field
    cfg = {"dataset": {"name": "spiral", "n_samples": 200}, "model": {"hidden": [6, 4]}, "training": {"epochs": 6}}
    ctx, page, errors = spanish_page(browser, room_server, "/" + config_hash(cfg))
    page.wait_for_function("() => window.playground.dataView")  # the data preview labels the figures
    found["playground"] = english(page.evaluate(COLLECT))
    page.click("#btn-play")
    page.wait_for_function("() => window.playground.run && window.playground.run.status === 'completed'",
                           timeout=60000)  # fmt: skip
    page.wait_for_timeout(500)
    page.fill("[data-path='optimizer.lr']", "-1")
    page.press("[data-path='optimizer.lr']", "Enter")
    page.click("#btn-play")  # refused: the toast says why
    page.wait_for_timeout(300)
    found["playground after a run"] = english(page.evaluate(COLLECT))
    page.screenshot(path=str(tmp_path / "playground-es.png"), full_page=True)
    # a 422 from the server, shown next to its field
    page.evaluate("""async () => { const { api } = await import('/app/api.js?v=' + Date.now());
                     try { await api('/api/runs', {method: 'POST', body: {training: {epochs: 0, batch_size: 'x'},
                                                                          optimizer: {name: 'nope', lr: 0}}}); }
                     catch (e) { window.playground.showError(e); } }""")
    found["server 422"] = english(page.evaluate(COLLECT))
    body = page.inner_text("body")
    # worded from each error's type and ctx: literal_error (expected), greater_than (gt), greater_than_equal (ge)
    assert "uno de 'sgd'" in body
    assert "mayor que 0" in body and "como mínimo 1" in body
    assert page.get_attribute("#btn-play", "aria-label") == "Entrenar"
    # two of the server's own rules, worded from their code and ctx: a cross-field rule of the
    # configuration (batch norm needs 2 samples per batch) and an admission limit (the classroom's
    # 2000 epochs)
    for body, spanish in (
        ({"model": {"batch_norm": True}, "training": {"batch_size": 1}},
         "batch normalization necesita al menos 2 muestras por lote"),
        ({"training": {"epochs": 3000}}, "como máximo 2000 épocas en este servidor"),
    ):  # fmt: skip
        page.evaluate(
            """async (body) => { const { api } = await import('/app/api.js?v=' + Date.now());
               try { await api('/api/runs', {method: 'POST', body}); }
               catch (e) { window.playground.showError(e); } }""",
            body,
        )
        assert spanish in page.inner_text("body")
        found[f"server rule {spanish}"] = english(page.evaluate(COLLECT))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "spanish-server-rule.png"))
    assert not errors
    ctx.close()
    # the optimizer lab after a race
    ctx, page, errors = spanish_page(browser, room_server, "/lab")
    page.click("#run")
    page.wait_for_function("() => document.getElementById('finals').children.length > 0", timeout=30000)
    page.wait_for_timeout(1000)  # the paths race to their end
    found["lab"] = english(page.evaluate(COLLECT))
    assert not errors
    ctx.close()
    # the teacher's dashboard with a room
    ctx, page, errors = spanish_page(browser, room_server, f"/teacher#key={SECRET}")
    page.click("#btn-new-room")
    page.wait_for_function("() => /^[A-Z2-9]{6}$/.test(document.getElementById('room-code').textContent)")
    found["teacher"] = english(page.evaluate(COLLECT))
    assert not errors
    ctx.close()
    assert not any(found.values()), "\n".join(f"{k}: {v}" for k, v in found.items() if v)
