"""Issue 12 §6: every error the engine and the service raise for a configuration carries a stable code
(the 422 detail's `type`) and its values (`ctx`), and frontend/src/i18n.js words each code in English and
Spanish (`cfg.<code>` in CONFIG_ERRORS). The raise sites are found in the source, so a rule added
without a code, or with a code the page does not know, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from nnplayground.engine.config import RunConfig, error_kind, error_location
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "backend" / "nnplayground"
# the callables that raise a configuration error, and the index of their code argument
RAISERS = {"ConfigError": 2, "field_error": 2, "PydanticCustomError": 0}


def _config_errors() -> dict[str, dict[str, str]]:
    src = (ROOT / "frontend" / "src" / "i18n.js").read_text()
    body = src[src.index("const CONFIG_ERRORS = {") :]
    body = body[: body.index("\n};")]
    en, es = body.split("\n  es: {")
    pairs = re.compile(r'"([\w.]+)":\s*"((?:[^"\\]|\\.)*)"')
    return {"en": dict(pairs.findall(en)), "es": dict(pairs.findall(es))}


TEXTS = _config_errors()


def _sites():
    """(where, code node, ctx node or None) of every raise site in engine/ and service/ (and api/),
    including the detail dicts {"field", "message", "type", ...} built by hand."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name not in RAISERS or (name == "ConfigError" and path.name == "config.py" and not node.args):
                    continue
                i = RAISERS[name]
                kw = {k.arg: k.value for k in node.keywords}
                code = node.args[i] if len(node.args) > i else kw.get("code" if i else "error_type")
                ctx = node.args[i + 1] if len(node.args) > i + 1 else kw.get("ctx" if i else "context")
                if name == "PydanticCustomError":
                    ctx = node.args[2] if len(node.args) > 2 else None
                yield where, code, ctx
            elif isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"field", "message"} <= keys:
                    values = {
                        k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)
                    }
                    yield where, values.get("type"), values.get("ctx")


SITES = list(_sites())


def _passes_on(node) -> bool:
    """A code handed on from the error being re-raised (`e.code`, `errors[0]["type"]`, `code` from
    error_kind): checked at the site that made it."""
    if isinstance(node, ast.Attribute):
        return node.attr == "code"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "type"
    return isinstance(node, ast.Name) and node.id == "code"


def test_the_scan_finds_the_raise_sites():
    # the admission limits, the cross-field rules and the hand-built detail entries are all seen
    files = {where.split(":")[0] for where, _, _ in SITES}
    assert {"engine/config.py", "engine/datasets.py", "service/manager.py", "engine/models.py"} <= files
    assert len(SITES) >= 40


@pytest.mark.parametrize("where,code,ctx", SITES, ids=[s[0] for s in SITES])
def test_every_raise_site_has_a_code_the_page_words_in_both_languages(where, code, ctx):
    assert code is not None, f"{where}: a configuration error without a code (the page can only show English)"
    if _passes_on(code):
        return
    assert isinstance(code, ast.Constant) and isinstance(code.value, str), f"{where}: the code must be a literal"
    key = f"cfg.{code.value}"
    assert key in TEXTS["en"] and key in TEXTS["es"], f"{where}: i18n.js CONFIG_ERRORS has no {key}"
    # every value the Spanish text names is in the site's ctx
    wanted = set(re.findall(r"\{(\w+)\}", TEXTS["es"][key]))
    given = set()
    if isinstance(ctx, ast.Dict):
        given = {k.value for k in ctx.keys if isinstance(k, ast.Constant)}
    assert wanted <= given, f"{where}: {key} needs ctx {sorted(wanted - given)}"


def test_both_languages_have_the_same_codes_and_placeholders():
    assert TEXTS["en"].keys() == TEXTS["es"].keys()
    for key, en in TEXTS["en"].items():
        assert set(re.findall(r"\{(\w+)\}", en)) == set(re.findall(r"\{(\w+)\}", TEXTS["es"][key])), key


@pytest.mark.parametrize(
    "config,field,code,ctx",
    [
        ({"dataset": {"name": "custom", "points": [[0, 0, 0], [1, 1, 0]]}}, "dataset.points", "points_two_classes", {}),
        ({"model": {"hidden": [4], "activations": ["relu", "tanh"]}}, "model.activations", "per_layer_length",
         {"n": 1, "got": 2}),
        ({"dataset": {"name": "wine", "task": "regression"}}, "dataset.task", "task_mismatch",
         {"name": "wine", "task": "classification"}),
        ({"model": {"batch_norm": True}, "training": {"batch_size": 1}}, "training.batch_size", "batch_norm_batch",
         {"min": 2}),
        ({"lesson": "no-such-lesson"}, "lesson", "unknown_lesson", None),
    ],
)  # fmt: skip
def test_a_cross_field_rule_reports_its_code_and_values(config, field, code, ctx):
    with pytest.raises(ValidationError) as e:
        RunConfig.model_validate(config)
    (loc, _), (kind, got) = error_location(e.value.errors()[0]), error_kind(e.value.errors()[0])
    assert ".".join(map(str, loc)) == field and kind == code
    if ctx is not None:
        assert got == ctx
    assert f"cfg.{kind}" in TEXTS["es"]


def test_the_422_detail_carries_the_rule_code_and_ctx(client):
    """Over HTTP: a cross-field rule (validation), an admission limit (max_epochs 400 in these tests)
    and a whole-configuration rule (check_trainable) each answer with their code and values."""
    r = client.post("/api/runs", json={"model": {"hidden": [4], "activations": ["relu", "tanh"]}})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {
            "field": "model.activations",
            "message": "needs one entry per hidden layer (1), got 2",
            "type": "per_layer_length",
            "ctx": {"n": 1, "got": 2},
        }
    ]
    r = client.post("/api/runs", json={"training": {"epochs": 401}})
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert (d["field"], d["type"], d["ctx"]) == ("training.epochs", "max_epochs", {"max": 400})
    r = client.post(
        "/api/runs",
        json={"dataset": {"name": "sine", "n_samples": 10, "val_fraction": 0.9}, "model": {"batch_norm": True}},
    )
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert (d["field"], d["type"]) == ("dataset.val_fraction", "batch_norm_split")
    assert d["ctx"]["n_train"] < 2 and d["ctx"]["n"] == 10
