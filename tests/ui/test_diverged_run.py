"""A run that diverges (issue 9's learning rate 10 on the spiral) in the browser: the views of its
last epoch hold null values and histograms with NaN/inf counts, and the page must show them without
a script error."""

from test_playground import config_hash

LR_10 = {"optimizer": {"lr": 10}, "training": {"epochs": 20}}  # the default spiral, exactly the issue's


def test_a_diverged_run_shows_its_nonfinite_counts_without_errors(open_page):
    p = open_page(config_hash(LR_10))
    p.page.click("#btn-play")
    p.wait_status("diverged")
    pg = "window.playground"
    p.page.wait_for_function(f"() => {pg}.histograms.history.length && {pg}.histograms.history.at(-1).epoch === 1")
    notes = p.js("() => [...document.querySelectorAll('#histograms .hist-layer .name span')].map(s => s.textContent)")
    assert notes and any("NaN/inf" in n for n in notes), notes
    p.shot("diverged-run")
    assert not p.errors, p.errors


def test_a_diverged_models_decision_surface_is_grey_not_class_0(open_page):
    """Epoch 1 of the LR-10 spiral has a surface of nulls: JS reads null < 0.5 as true, so it was
    painted the washed orange of class 0 everywhere, as if the model were sure of one class."""
    p = open_page(config_hash(LR_10))
    p.page.click("#btn-play")
    p.wait_status("diverged")
    p.page.wait_for_function("() => window.playground.output.surface && window.playground.output.surface.epoch === 1")
    corners = p.js(
        """() => { const c = document.querySelector('#output canvas'); const g = c.getContext('2d');
               const P = window.playground.output.plot, r = P.x + P.w, b = P.y + P.h; // the plot, inside the axes
               return [[P.x + 3, P.y + 3], [r - 4, P.y + 3], [P.x + 3, b - 4], [r - 4, b - 4]]
                 .map(([x, y]) => [...g.getImageData(x, y, 1, 1).data.slice(0, 3)]); }"""
    )
    assert corners == [[200, 200, 200]] * 4, corners
    assert not p.errors, p.errors
