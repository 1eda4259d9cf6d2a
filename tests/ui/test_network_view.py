"""The network diagram for every kind of data (issue 12 §3): it was blank (grey links, no thumbnails)
for layers wider than 32 units, for regression (sine) and for tabular data (wine), and output units
never had a thumbnail. Screenshots at 1280x720 in test-artifacts/ui/network-*.png."""

from __future__ import annotations

import pytest
from test_playground import config_hash

GREY = "#c9ced6"

CASES = {
    # name: (config, thumbnails expected, coloured links expected, "… N more" texts)
    "spiral": (
        {"dataset": {"name": "spiral", "n_samples": 200}, "model": {"hidden": [6, 4], "activation": "tanh"}},
        6 + 4 + 2,
        2 * 6 + 6 * 4 + 4 * 2,
        [],
    ),
    "sine": (
        {"dataset": {"name": "sine", "n_samples": 120}, "model": {"hidden": [5, 3], "activation": "tanh"}},
        5 + 3 + 1,
        1 * 5 + 5 * 3 + 3 * 1,
        [],
    ),
    "wine": ({"dataset": {"name": "wine"}, "model": {"hidden": [6]}}, 0, 13 * 6 + 6 * 3, []),
    "wide": (
        {"dataset": {"name": "circle", "n_samples": 200}, "model": {"hidden": [48]}},
        16 + 2,
        2 * 16 + 16 * 2,
        ["… 32 more"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_network_diagram_shows_units_and_weights(open_page, case):
    cfg, thumbs, links, more = CASES[case]
    p = open_page(config_hash({**cfg, "training": {"epochs": 8}}), size=(1280, 720))
    p.page.click("#btn-play")
    p.wait_status("completed")
    p.page.wait_for_function("() => window.playground.lastNetwork")
    got = p.js(
        """(grey) => {
            const host = document.getElementById('network');
            const paths = [...host.querySelectorAll('path')];
            return {thumbs: host.querySelectorAll('image.unit-thumb').length,
                    coloured: paths.filter(e => e.getAttribute('stroke') !== grey).length,
                    texts: [...host.querySelectorAll('text')].map(e => e.textContent)};
        }""",
        GREY,
    )
    assert got["thumbs"] == thumbs
    assert got["coloured"] == links  # every drawn link carries its weight's colour
    assert all(m in got["texts"] for m in more)
    if case == "wine":  # one input node per feature, labelled
        assert [f"x{chr(0x2080 + k)}" for k in range(1, 10)] == [t for t in got["texts"] if t.startswith("x")][:9]
    if case == "sine":  # the curves differ from unit to unit (not one blank picture repeated)
        hrefs = p.js(
            "() => [...document.querySelectorAll('#network image.unit-thumb')].map(e => e.getAttribute('href'))"
        )
        assert len(set(hrefs)) == len(hrefs)
    p.page.locator("#network").scroll_into_view_if_needed()
    p.shot(f"network-{case}", full_page=False)
    assert not p.errors
