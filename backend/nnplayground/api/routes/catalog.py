"""GET /api/catalog: every choice and bound the engine offers, generated from the pydantic config
models (RunConfig's JSON schema, whose choices and field relevance come from the option registry,
engine/choices.py), so that the UI builds its controls from the same source of truth as the engine
validates against."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter

from ...engine import presets
from ...engine.config import RunConfig
from ...engine.status import ACTIONS, ACTIVE, STATUSES, TERMINAL
from ..deps import SettingsDep

router = APIRouter(prefix="/catalog", tags=["catalog"])

# How the UI groups the regularization switches. Only paths are named here; their types, bounds and
# defaults are read from the schema (a path that stops existing fails the catalog tests).
REGULARIZERS = {
    "weight_decay": ["optimizer.weight_decay", "optimizer.decay_biases"],
    "l1": ["optimizer.l1", "optimizer.decay_biases"],
    "dropout": ["model.dropout", "model.dropouts", "telemetry.mc_samples"],
    "batch_norm": ["model.batch_norm", "model.bn_alpha"],
    "early_stopping": ["early_stopping.*"],
    "augmentation": ["augmentation.*"],
}
CHOICES = {
    "datasets": "dataset.name",
    "activations": "model.activation",
    "architectures": "model.arch",
    "initializers": "init.scheme",
    "optimizers": "optimizer.name",
    "schedules": "schedule.name",
    "transfer_strategies": "transfer.strategy",
    "early_stopping_monitors": "early_stopping.monitor",
}
_BOUNDS = {
    "minimum": "min",
    "maximum": "max",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minItems": "min_items",
    "maxItems": "max_items",
    "uniqueItems": "unique_items",  # a set of choices (drawn as checkboxes), not an ordered list
    "minLength": "min_length",
    "maxLength": "max_length",
}


def _describe(prop: dict, defs: dict) -> dict:
    if "$ref" in prop:
        return {"kind": "section", "fields": _fields(defs[prop["$ref"].split("/")[-1]], defs)}
    out: dict = {}
    options = prop.get("anyOf")
    if options:
        non_null = [o for o in options if o.get("type") != "null"]
        out["nullable"] = len(non_null) < len(options)
        inner = _describe(non_null[0], defs) if len(non_null) == 1 else {"kind": "any"}
        out = {**inner, **out}
    elif "enum" in prop:
        out.update(kind="choice", choices=prop["enum"])
    elif "const" in prop:
        out.update(kind="choice", choices=[prop["const"]])
    elif prop.get("type") == "array":
        out["kind"] = "list"
        if "prefixItems" in prop:
            out["items"] = [_describe(p, defs) for p in prop["prefixItems"]]
        elif "items" in prop:
            out["items"] = _describe(prop["items"], defs)
    else:
        out["kind"] = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}.get(
            prop.get("type"), "any"
        )
    for key, name in _BOUNDS.items():
        if key in prop:
            out[name] = prop[key]
    # relevant_when: when the field matters (choices.py), so the UI shows its control only then
    for key in ("default", "description", "title", "relevant_when"):
        if key in prop:
            out[key] = prop[key]
    return out


def _fields(model_schema: dict, defs: dict) -> dict:
    return {name: _describe(p, defs) for name, p in model_schema.get("properties", {}).items()}


def _lookup(sections: dict, path: str) -> dict:
    section, field = path.split(".", 1)
    return sections[section]["fields"][field]


def _names(statuses) -> list[str]:
    return [str(s) for s in statuses]


@lru_cache(maxsize=1)
def build_catalog() -> dict:
    schema = RunConfig.model_json_schema()
    defs = schema.get("$defs", {})
    sections = {}
    for name, prop in schema["properties"].items():
        ref = prop.get("$ref") or next((o["$ref"] for o in prop.get("anyOf", []) if "$ref" in o), None)
        if ref is None:  # a plain top-level field (`lesson`), not a section of controls
            continue
        model = defs[ref.split("/")[-1]]
        sections[name] = {
            "optional": "anyOf" in prop,
            "description": model.get("description", ""),
            "fields": _fields(model, defs),
        }
    choices = {key: _lookup(sections, path)["choices"] for key, path in CHOICES.items()}
    regularizers = {}
    for key, paths in REGULARIZERS.items():
        fields = {}
        for path in paths:
            section, field = path.split(".", 1)
            if field == "*":
                fields.update({f"{section}.{f}": d for f, d in sections[section]["fields"].items()})
            else:
                fields[path] = _lookup(sections, path)
        regularizers[key] = fields
    return {
        "sections": sections,
        "choices": choices,
        "regularizers": regularizers,
        "defaults": RunConfig().model_dump(mode="json"),
        "presets": presets.names(),
        # the run statuses and control actions (engine/status.py): the browser reads them from here
        "statuses": {"all": _names(STATUSES), "active": _names(ACTIVE), "terminal": _names(TERMINAL)},
        "actions": {name: _names(allowed) for name, allowed in ACTIONS.items()},
        "schema": schema,
    }


@router.get("", summary="Every choice the engine offers, with bounds and defaults, statuses and actions")
def catalog(settings: SettingsDep) -> dict:
    return {**build_catalog(), "limits": settings.limits()}
