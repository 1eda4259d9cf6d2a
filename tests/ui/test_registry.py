"""Every choice of the option registry (engine/choices.py) reaches every place that lists it, with no
edit elsewhere: the catalog, the playground's controls (and which fields they show: the browser's
reading of `relevant_when` agrees with the engine's), a shared link (URL state), the optimizer lab
and the exported script."""

import httpx
from nnplayground.engine.choices import ACTIVATIONS, DATASETS, INITIALIZERS, OPTIMIZERS, SCHEDULES, relevant
from nnplayground.service import scriptgen

CHOICE_FIELDS = {
    "optimizer.name": OPTIMIZERS,
    "schedule.name": SCHEDULES,
    "init.scheme": INITIALIZERS,
    "model.activation": ACTIVATIONS,
    "dataset.name": {n: d for n, d in DATASETS.items() if n != "custom"},  # custom: drawn on the plane
}
SHOWN = """() => Object.fromEntries([...document.querySelectorAll('.ctl [data-path]')]
                 .map(e => [e.dataset.path, !e.closest('.ctl').hidden]))"""


def test_the_catalog_lists_every_registered_choice(server):
    choices = httpx.get(server.base + "/api/catalog").json()["choices"]
    assert choices["optimizers"] == list(OPTIMIZERS)
    assert choices["schedules"] == list(SCHEDULES)
    assert choices["initializers"] == list(INITIALIZERS)
    assert choices["activations"] == list(ACTIVATIONS)
    assert choices["datasets"] == list(DATASETS)


def test_controls_show_what_each_choice_reads(open_page, server):
    catalog = httpx.get(server.base + "/api/catalog").json()
    p = open_page()
    for path, registry in CHOICE_FIELDS.items():
        listed = p.js(f"() => [...document.querySelector(\"[data-path='{path}']\").options].map(o => o.value)")
        assert listed == list(registry) if path != "dataset.name" else set(registry) <= set(listed), path
        for name in registry:
            p.page.select_option(f"[data-path='{path}']", name)
            cfg = p.js("() => window.playground.state.config")
            shown = p.js(SHOWN)
            for section, spec in catalog["sections"].items():
                if spec["optional"]:
                    continue
                for field, f in spec["fields"].items():
                    key = f"{section}.{field}"
                    if key in shown:
                        assert shown[key] == relevant(f.get("relevant_when"), cfg), (path, name, key)
    assert not p.errors


def test_every_optimizer_survives_a_shared_link(open_page):
    p = open_page()
    for name in OPTIMIZERS:
        p.page.select_option("[data-path='optimizer.name']", name)
        url = p.page.url
        q = open_page(url[url.index("#") :] if "#" in url else "")  # the default makes no hash
        assert q.js("() => window.playground.state.get('optimizer.name')") == name
        assert q.page.input_value("[data-path='optimizer.name']") == name
        q.close()


def test_the_lab_offers_every_optimizer(open_page, server):
    p = open_page()
    p.page.goto(server.base + "/lab")
    p.page.wait_for_selector("body[data-ready='1']")
    listed = p.js("() => [...document.querySelector('#opts select').options].map(o => o.value)")
    assert listed == list(OPTIMIZERS)
    for name in OPTIMIZERS:  # the server draws a path for each
        r = httpx.post(
            server.base + "/api/landscape",
            json={"function": "quadratic", "steps": 5, "optimizers": [{"name": name, "lr": 0.01}]},
        )
        assert r.status_code == 200 and len(r.json()["paths"][0]) == 6, (name, r.text)
    assert not p.errors


def test_the_exported_script_builds_each_optimizer():
    for name, choice in OPTIMIZERS.items():
        text = scriptgen.script("x", {"optimizer": {"name": name}})
        assert f"{choice.cls.__name__}(groups, " in text, name
        compile(text, "run.py", "exec")


def test_nadam_reaches_every_place(open_page, server):
    """NAdam, added as one registry entry: the catalog, the controls (with the fields it reads), a
    shared link, the optimizer lab and the exported script all have it."""
    assert "nadam" in httpx.get(server.base + "/api/catalog").json()["choices"]["optimizers"]
    p = open_page()
    p.page.select_option("[data-path='optimizer.name']", "nadam")
    shown = p.js(SHOWN)
    assert shown["optimizer.betas"] and shown["optimizer.eps"] and not shown["optimizer.momentum"]
    url = p.page.url
    q = open_page(url[url.index("#") :])
    assert q.page.input_value("[data-path='optimizer.name']") == "nadam"
    q.page.goto(server.base + "/lab")
    q.page.wait_for_selector("body[data-ready='1']")
    q.page.click("#add")
    row = "#opts tbody tr:last-child"
    q.page.select_option(f"{row} select", "nadam")
    q.page.wait_for_function("() => document.querySelector('#finals').textContent.includes('nadam: f =')")
    assert q.js(f"() => document.querySelector('{row} input[max]').disabled") is False  # beta1 applies
    text = scriptgen.script("x", {"optimizer": {"name": "nadam", "lr": 0.002}})
    assert "opt = torch.optim.NAdam(groups, lr=0.002, betas=(0.9, 0.999), eps=1e-08)" in text
    assert not p.errors and not q.errors
