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
