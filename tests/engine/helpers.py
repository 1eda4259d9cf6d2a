from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import merge


def cfg(**sections) -> RunConfig:
    """A validated config: defaults overridden section by section, telemetry trimmed for speed."""
    base = RunConfig().model_dump(mode="json")
    base = merge(base, {"telemetry": {"histogram_every": 0, "surface_every": 0}})
    return RunConfig.model_validate(merge(base, sections))


def run(config: RunConfig) -> tuple[Trainer, list[dict]]:
    t = Trainer(config)
    return t, list(t)
