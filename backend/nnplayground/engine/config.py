"""The run configuration: one pydantic model tree that the engine, the REST API, the UI controls
and the docs all read. Field names are a public contract (shared links, exported JSON, user scripts):
add fields, never rename them."""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .choices import (
    ACTIVATIONS,
    DATASETS,
    DEFAULT_FEATURES,
    FEATURES,
    INITIALIZERS,
    OPTIMIZERS,
    SCHEDULES,
    is_plane,
    used_by,
    users,
)

# The choices come from the option registry (choices.py); Literal keeps them in the JSON schema.
DatasetName = Literal[tuple(DATASETS)]
Activation = Literal[tuple(ACTIVATIONS)]
InitScheme = Literal[tuple(INITIALIZERS)]
OptimizerName = Literal[tuple(OPTIMIZERS)]
ScheduleName = Literal[tuple(SCHEDULES)]
FeatureName = Literal[tuple(FEATURES)]

TWO_D = tuple(name for name, d in DATASETS.items() if d.plane and d.task == "classification")
IMAGE_DATASETS = [name for name, d in DATASETS.items() if d.image]
# data sets whose inputs are points of the plane (custom may be: two columns), where input features apply
PLANE_DATASETS = [name for name, d in DATASETS.items() if d.plane or name == "custom"]
MAX_CUSTOM_ROWS = 5000
MAX_CUSTOM_FEATURES = 64
# Python's json reads the tokens Infinity and NaN: every float that comes from outside must be finite.
Finite = Annotated[float, Field(allow_inf_nan=False)]

MAX_ABS_VALUE = 3.4028234663852886e38  # float32's largest finite value: the engine computes in float32


# The lesson presets' names, registered by engine/presets.py as it is imported (importing the engine
# package imports it): presets are built on this module, so this module must not import them.
LESSON_NAMES: set[str] = set()


class ConfigError(ValueError):
    """A configuration that validates field by field but cannot be trained as a whole (for instance a
    split that leaves batch normalization one training sample). `field` is the dotted path to change.
    `code` is the rule's stable name and `ctx` its plain values (str, int, float, bool): the 422 detail
    carries them as `type` and `ctx`, so that a page in another language words the message itself
    (frontend/src/i18n.js has the key `cfg.<code>` for each)."""

    def __init__(self, field: str, message: str, code: str = "value_error", ctx: dict | None = None):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.code, self.ctx = field, message, code, dict(ctx or {})


def error_location(error: dict) -> tuple[tuple, str]:
    """(loc, message) of one pydantic error dict, with a cross-field ConfigError placed at the field it
    names (pydantic itself puts a model validator's error on the whole model)."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        return (*error.get("loc", ()), *cause.field.split(".")), cause.message
    return tuple(error.get("loc", ())), error.get("msg", "invalid value")


def error_kind(error: dict) -> tuple[str, dict]:
    """(type, ctx) of one pydantic error dict: a cross-field ConfigError's own code and ctx, otherwise
    pydantic's type and the plain values (str, int, float, bool) of its ctx."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        return cause.code, cause.ctx
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float | bool)}
    return error.get("type", "value_error"), ctx


class _Section(BaseModel):
    # Unknown keys are an error: a typo such as "learning_rate" must not be silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatasetConfig(_Section):
    name: DatasetName = Field("spiral", description="Which data set to learn.")
    n_samples: int = Field(
        500,
        ge=10,
        le=20000,
        description="Samples generated (capped by real data sets).",
        json_schema_extra=used_by("dataset.name", DATASETS, "n_samples"),
    )
    noise: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Label/feature noise, as a fraction of the data scale.",
        json_schema_extra=used_by("dataset.name", DATASETS, "noise"),
    )
    val_fraction: float = Field(0.5, gt=0.0, le=0.9, description="Share of the samples held out for validation.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the generator and of the split.")
    classes: list[Annotated[int, Field(ge=0, le=9)]] | None = Field(
        None,
        min_length=2,
        max_length=10,
        description="digits: keep only these digit classes.",
        json_schema_extra=used_by("dataset.name", DATASETS, "classes"),
    )
    per_class: int | None = Field(
        None,
        ge=1,
        le=500,
        description="digits: at most this many training samples a class.",
        json_schema_extra=used_by("dataset.name", DATASETS, "per_class"),
    )
    task: Literal["classification", "regression"] | None = Field(
        None,
        description=(
            "custom: 'classification' (integer class labels 0-9, the default) or 'regression' (float targets, "
            "trained with squared error). Other data sets have their own task."
        ),
        json_schema_extra=used_by("dataset.name", DATASETS, "task"),
    )
    points: list[list[Finite]] | None = Field(
        None,
        description=(
            "custom: rows of feature values followed by a label (finite numbers): an integer class, or a float "
            "target when task = 'regression'."
        ),
    )

    @field_validator("classes")
    @classmethod
    def _distinct(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise PydanticCustomError("classes_distinct", "classes must be distinct")
        return v

    @field_validator("points")
    @classmethod
    def _points_only_custom(cls, v, info):
        # stored and re-read with every run: only the custom data set may carry rows
        if v is not None and info.data.get("name", "custom") != "custom":
            raise PydanticCustomError(
                "points_only_custom", "points are only for the custom data set (dataset.name = 'custom')"
            )
        return v

    @model_validator(mode="after")
    def _custom_points(self):
        if self.name != "custom":
            if self.task is not None and self.task != DATASETS[self.name].task:
                raise ConfigError(
                    "task",
                    f"{self.name} is a {DATASETS[self.name].task} data set",
                    "task_mismatch",
                    {"name": self.name, "task": DATASETS[self.name].task},
                )
            return self
        rows = self.points
        width = _custom_width(rows)
        regression = self.task == "regression"
        labels = [_custom_label(i, r, width, regression) for i, r in enumerate(rows)]
        if regression:
            if len(rows) < 2:
                raise ConfigError(
                    "points", "a regression data set needs at least 2 rows", "points_regression_rows", {"min": 2}
                )
        else:
            _check_custom_classes(labels)
        return self


def _custom_width(rows: list[list[float]] | None) -> int:
    """The width (features + label) every row of a custom data set must have, that of row 0;
    ConfigError on `points` when there are no rows, too many, or too few/many values in row 0."""
    if not rows:
        raise ConfigError("points", "a custom data set needs rows of [features..., label]", "points_missing")
    if len(rows) > MAX_CUSTOM_ROWS:
        raise ConfigError(
            "points",
            f"at most {MAX_CUSTOM_ROWS} rows, got {len(rows)}",
            "points_too_many",
            {"max": MAX_CUSTOM_ROWS, "n": len(rows)},
        )
    width = len(rows[0])
    if not 2 <= width <= MAX_CUSTOM_FEATURES + 1:
        raise ConfigError(
            "points",
            f"each row needs 1 to {MAX_CUSTOM_FEATURES} features and a label",
            "points_width",
            {"max": MAX_CUSTOM_FEATURES},
        )
    return width


def _custom_label(i: int, row: list[float], width: int, regression: bool) -> int | None:
    """Row `i`'s class label (None for a regression target), after checking its width and values;
    ConfigError on `points` naming the row."""
    if len(row) != width:
        raise ConfigError(
            "points",
            f"row {i} has {len(row)} values, row 0 has {width}",
            "points_ragged",
            {"row": i, "n": len(row), "width": width},
        )
    if not all(math.isfinite(v) and abs(v) <= MAX_ABS_VALUE for v in row):
        raise ConfigError(
            "points",
            f"row {i} has a value that is not a finite number within +-3.4e38",
            "points_not_finite",
            {"row": i},
        )
    if regression:
        return None
    label = row[-1]
    if label != int(label) or not 0 <= label < 10:
        raise ConfigError(
            "points",
            f"row {i} label {label} is not a class number 0-9",
            "points_label",
            {"row": i, "label": label},
        )
    return int(label)


def _check_custom_classes(labels: list[int]) -> None:
    """A custom classification set needs two classes or more, each with at least 2 samples."""
    counts = Counter(labels)
    if len(counts) < 2:
        raise ConfigError("points", "need at least two classes", "points_two_classes")
    if min(counts.values()) < 2:
        raise ConfigError("points", "every class needs at least 2 samples", "points_class_samples", {"min": 2})


class PreprocessingConfig(_Section):
    standardize: bool = Field(
        True, description="z-score features with training-split statistics (images: subtract the mean only)."
    )
    features: list[FeatureName] = Field(
        default_factory=lambda: list(DEFAULT_FEATURES),
        min_length=1,
        max_length=len(FEATURES),
        description=(
            "2-D data: the model's inputs, computed from the raw coordinates (x1, x2) before standardization "
            "(TensorFlow Playground's feature crosses). The decision surface stays over (x1, x2)."
        ),
        json_schema_extra={"uniqueItems": True, "relevant_when": {"dataset.name": PLANE_DATASETS}},
    )

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, v):
        if len(set(v)) != len(v):
            raise PydanticCustomError("features_distinct", "features must be distinct")
        return v


_IMAGES = {"relevant_when": {"dataset.name": IMAGE_DATASETS}}


class AugmentationConfig(_Section):
    noise_std: float = Field(0.0, ge=0.0, le=2.0, description="Gaussian noise added to training inputs each epoch.")
    rotation_deg: float = Field(
        0.0, ge=0.0, le=45.0, description="Images: random rotation up to this many degrees.", json_schema_extra=_IMAGES
    )
    scale: float = Field(
        0.0, ge=0.0, le=0.5, description="Images: random zoom by up to this fraction.", json_schema_extra=_IMAGES
    )
    shift: float = Field(
        0.0, ge=0.0, le=0.5, description="Images: random translation up to this fraction.", json_schema_extra=_IMAGES
    )


class ModelConfig(_Section):
    arch: Literal["auto", "mlp", "cnn"] = Field(
        "auto", description="auto: a CNN for images, an MLP otherwise.", json_schema_extra=_IMAGES
    )
    hidden: list[Annotated[int, Field(ge=1, le=256)]] = Field(
        default_factory=lambda: [8, 8], max_length=8, description="Hidden layer widths, input side first."
    )
    activation: Activation = Field("relu", description="Activation of every hidden layer.")
    activations: list[Activation] | None = Field(None, description="Optional per-layer activations.")
    leaky_slope: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Slope of leaky_relu for negative inputs.",
        json_schema_extra={
            "relevant_when": {
                "any": [
                    {"model.activation": users(ACTIVATIONS, "leaky_slope")},
                    {"model.activations": users(ACTIVATIONS, "leaky_slope")},
                ]
            }
        },
    )
    batch_norm: bool = Field(False, description="Normalize pre-activations (Linear -> BN -> activation).")
    bn_alpha: float = Field(
        0.9,
        ge=0.0,
        lt=1.0,
        description="Running statistics: mu = alpha*mu + (1-alpha)*mu_batch.",
        json_schema_extra={"relevant_when": {"model.batch_norm": [True]}},
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Probability of switching a hidden unit off.")
    dropouts: list[Annotated[float, Field(ge=0.0, lt=1.0)]] | None = Field(
        None, description="Optional per-layer dropout probabilities."
    )
    conv_channels: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [8, 16],
        min_length=1,
        max_length=3,
        description="CNN: channels of each conv block.",
        json_schema_extra={"relevant_when": {"dataset.name": IMAGE_DATASETS, "model.arch": {"not": ["mlp"]}}},
    )

    @model_validator(mode="after")
    def _per_layer_lengths(self):
        for name in ("activations", "dropouts"):
            v = getattr(self, name)
            if v is not None and len(v) != len(self.hidden):
                raise ConfigError(
                    name,
                    f"needs one entry per hidden layer ({len(self.hidden)}), got {len(v)}",
                    "per_layer_length",
                    {"n": len(self.hidden), "got": len(v)},
                )
        return self

    def layer_activation(self, i: int) -> str:
        return self.activations[i] if self.activations else self.activation

    def layer_dropout(self, i: int) -> float:
        return self.dropouts[i] if self.dropouts else self.dropout


class InitConfig(_Section):
    scheme: InitScheme = Field("he", description="How weights start.")
    std: float = Field(
        0.01,
        ge=0.0,
        le=10.0,
        description="normal: standard deviation; constant: the value.",
        json_schema_extra=used_by("init.scheme", INITIALIZERS, "std"),
    )
    xavier_mode: Literal["fan_in", "fan_avg"] = Field(
        "fan_in",
        description="xavier: variance 1/fan_in (course) or 2/(fan_in+fan_out) (Glorot).",
        json_schema_extra=used_by("init.scheme", INITIALIZERS, "xavier_mode"),
    )


def _opt(field: str, text: str) -> str:
    return f"{'/'.join(users(OPTIMIZERS, field))}: {text}"


def _opt_extra(field: str) -> dict:
    return {"json_schema_extra": used_by("optimizer.name", OPTIMIZERS, field)}


class OptimizerConfig(_Section):
    name: OptimizerName = Field("sgd", description="Update rule.")
    lr: float = Field(0.03, gt=0.0, le=10.0, description="Learning rate (delta in the course's notation).")
    momentum: float = Field(
        0.9,
        ge=0.0,
        lt=1.0,
        description=_opt("momentum", "alpha of V = alpha*V + (1-alpha)*g."),
        **_opt_extra("momentum"),
    )
    betas: tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        (0.9, 0.999), description=_opt("betas", "decay of the first and second moment averages."), **_opt_extra("betas")
    )
    rho: float = Field(
        0.9, ge=0.0, lt=1.0, description=_opt("rho", "decay of the squared-gradient average."), **_opt_extra("rho")
    )
    eps: float = Field(1e-8, gt=0.0, le=1.0, description=_opt("eps", "numerical safety term."), **_opt_extra("eps"))
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="lambda of the penalty (1/2)*lambda*||w||^2.")
    l1: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="lambda1 of the L1 penalty lambda1*sum|w| (same weights as weight_decay), added to the loss.",
    )
    decay_biases: bool = Field(
        False,
        description="Also penalize biases and batch-norm parameters (weight decay and L1).",
        json_schema_extra={
            "relevant_when": {"any": [{"optimizer.weight_decay": {"gt": 0}}, {"optimizer.l1": {"gt": 0}}]}
        },
    )


def _sched_extra(field: str) -> dict:
    return {"json_schema_extra": used_by("schedule.name", SCHEDULES, field)}


class ScheduleConfig(_Section):
    name: ScheduleName = Field("constant", description="How the learning rate changes over epochs.")
    step_size: int = Field(
        10, ge=1, le=5000, description="step: epochs between reductions.", **_sched_extra("step_size")
    )
    gamma: float = Field(
        0.5, gt=0.0, le=1.0, description="step/exponential: multiplier per step/epoch.", **_sched_extra("gamma")
    )
    factor: float = Field(
        0.5, gt=0.0, lt=1.0, description="plateau: multiplier when validation loss stalls.", **_sched_extra("factor")
    )
    patience: int = Field(
        5,
        ge=0,
        le=1000,
        description=(
            "plateau: the LR is multiplied by `factor` at the end of the patience-th consecutive epoch whose "
            "validation loss is not below the best so far (by a relative 1e-4), counting from epoch 0 (the "
            "initial weights); the new LR applies from the next epoch and the count restarts. Keras's convention "
            "(ReduceLROnPlateau), the same as early_stopping.patience; torch's ReduceLROnPlateau would wait one "
            "epoch more. Patience 2: best at epoch 0, epochs 1 and 2 no better -> cut after epoch 2, epoch 3 "
            "trains with the new LR. 0 acts like 1."
        ),
        **_sched_extra("patience"),
    )
    min_lr: float = Field(
        0.0, ge=0.0, le=1.0, description="plateau/cosine: floor of the learning rate.", **_sched_extra("min_lr")
    )


class TrainingConfig(_Section):
    epochs: int = Field(100, ge=1, le=5000, description="Passes over the training split.")
    batch_size: int = Field(10, ge=1, le=20000, description="Samples per update (capped at the training size).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of weights, shuffling, dropout and augmentation.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "auto", description="Where to train; auto takes a GPU for CNNs and large models, the CPU otherwise."
    )


_ES_ON = {"relevant_when": {"early_stopping.enabled": [True]}}


class EarlyStoppingConfig(_Section):
    enabled: bool = Field(False, description="Stop when the monitored metric stops improving.")
    monitor: Literal["val_loss", "val_acc"] = Field(
        "val_loss",
        description="Metric watched; it also decides the run's best epoch while early stopping is on.",
        json_schema_extra=_ES_ON,
    )
    patience: int = Field(
        10,
        ge=0,
        le=1000,
        description=(
            "Training stops at the end of the patience-th consecutive epoch without improvement, counting from "
            "epoch 0 (the initial weights). Keras's convention (EarlyStopping), the same as schedule.patience. "
            "Patience 2: best at epoch 0, epochs 1 and 2 no better -> stop after epoch 2. 0 acts like 1."
        ),
        json_schema_extra=_ES_ON,
    )
    min_delta: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="Improvement means beating the best value by more than this.",
        json_schema_extra=_ES_ON,
    )
    restore_best: bool = Field(
        True,
        description=(
            "When the run ends (early stop, last epoch or stopped by the user; not after a divergence), hand "
            "back the weights of the best epoch: the run's reported best_epoch."
        ),
        json_schema_extra=_ES_ON,
    )


class TransferConfig(_Section):
    source: str = Field(
        ..., min_length=1, max_length=100, description="'builtin:digits-0-4' or the id of an earlier run."
    )
    strategy: Literal["scratch", "freeze_features", "finetune_all", "finetune_last_k", "continue"] = Field(
        "freeze_features",
        description="Which layers keep the source weights fixed; 'continue' resumes the source run's model as is.",
    )
    k: int = Field(
        1,
        ge=1,
        le=12,
        description="finetune_last_k: how many layers, counted from the output, train.",
        json_schema_extra={"relevant_when": {"transfer.strategy": ["finetune_last_k"]}},
    )
    feature_lr_scale: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="LR multiplier for unfrozen feature layers.",
        json_schema_extra={"relevant_when": {"transfer.strategy": ["finetune_all", "finetune_last_k"]}},
    )
    epoch: int | None = Field(
        None, ge=0, le=5000, description="A run id source: start from this epoch's checkpoint (null = its final model)."
    )


class TelemetryConfig(_Section):
    enabled: bool = Field(True, description="Per-layer probes (gradient norms, dead units...). Off = losses only.")
    histogram_every: int = Field(1, ge=0, le=1000, description="Epochs between histogram events (0 = never).")
    bins: int = Field(30, ge=5, le=100, description="Histogram bin count.")
    surface_every: int = Field(
        1, ge=0, le=1000, description="Epochs between decision surface/curve events (0 = never)."
    )
    surface_resolution: int = Field(64, ge=8, le=128, description="Grid cells per side of the decision surface.")
    mc_samples: int = Field(
        0, ge=0, le=100, description="With dropout: MC-dropout passes for the uncertainty views (0 = off)."
    )
    grad_samples: int = Field(
        8, ge=0, le=10000, description="Steps per epoch whose gradient norms are measured (0 = every step)."
    )
    probe_size: int = Field(256, ge=16, le=2048, description="Samples of the fixed probe batch.")
    max_checkpoints: int = Field(
        400, ge=2, le=5000, description="Epoch checkpoints kept; beyond, older ones are thinned."
    )


class RunConfig(_Section):
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    init: InitConfig = Field(default_factory=InitConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    transfer: TransferConfig | None = None
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    lesson: str | None = Field(
        None,
        max_length=100,
        description=(
            "The lesson preset this run was started from (GET /api/presets/{name} sets it): the run's summary "
            "then reports the lesson's claims measured on this run (summary.claims). Null = free play."
        ),
    )

    @field_validator("lesson")
    @classmethod
    def _known_lesson(cls, v):
        if v is not None and v not in LESSON_NAMES:
            raise PydanticCustomError(
                "unknown_lesson",
                "unknown lesson '{lesson}'; known: {known}",
                {"lesson": v, "known": ", ".join(sorted(LESSON_NAMES))},
            )
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.model.arch == "cnn" and self.dataset.name != "digits":
            raise ConfigError("model.arch", "a CNN needs image data (dataset.name = 'digits')", "cnn_needs_images")
        if self.transfer is not None and self.transfer.source.startswith("builtin:") and self.dataset.name != "digits":
            raise ConfigError(
                "transfer.source",
                "the built-in source was trained on digits; use dataset 'digits'",
                "builtin_source_digits",
            )
        if self.preprocessing.features != list(DEFAULT_FEATURES) and not is_plane(self.dataset):
            raise ConfigError(
                "preprocessing.features",
                f"input features are for 2-D data (points of the plane); {self.dataset.name} is not: keep "
                f"{list(DEFAULT_FEATURES)}",
                "features_need_plane",
                {"name": self.dataset.name, "features": ", ".join(DEFAULT_FEATURES)},
            )
        if self.model.batch_norm and self.training.batch_size < 2:
            raise ConfigError(
                "training.batch_size",
                "batch normalization needs at least 2 samples per batch",
                "batch_norm_batch",
                {"min": 2},
            )
        return self

    def uses_cnn(self) -> bool:
        return self.model.arch == "cnn" or (self.model.arch == "auto" and DATASETS[self.dataset.name].image)

    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape as the model sees it: (number of input features,) for 2-D data."""
        if is_plane(self.dataset):
            return (len(self.preprocessing.features),)
        return DATASETS[self.dataset.name].input_shape(self.dataset)


def merge(base: dict, override: dict) -> dict:
    """Deep-merge two plain config dicts (override wins); used by presets and partial API bodies."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
