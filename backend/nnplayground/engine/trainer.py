"""The trainer: one run, advanced one epoch at a time, emitting telemetry events.

    trainer = Trainer(config)
    for event in trainer:          # or: trainer.start(), then trainer.train_epoch() per epoch
        print(event["type"])

`train_epoch()` (also `step()`) trains exactly one epoch and returns that epoch's events, so a worker
can pause, step, throttle or stop between epochs. Epoch 0 is the initial weights, before any update.

One epoch, top to bottom: `train_epoch` runs the batches (`_train_one_epoch`, `_train_batches`), then
`_end_of_epoch` takes three steps: `_measure` (the epoch record, histograms, output view),
`_track_best` (best epoch and its checkpoint pin), `_stopping` (divergence, early stopping, last
epoch), and, for a run that goes on, `_step_schedule` (the learning rate of the next epoch)."""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F

from . import augmentation, claims, datasets, events, initializers, models, outputs, presets, telemetry, transfer
from .checkpoints import CheckpointStore
from .choices import OPTIMIZERS
from .config import ConfigError, RunConfig, TransferConfig
from .optimizers import Schedule, build_optimizer, decay_growth
from .regularization import EarlyStopping, decayed_params, l1_penalty, l2_penalty, penalties
from .status import TERMINAL as STATUS_TERMINAL
from .status import RunStatus
from .telemetry import finite_or_none as _finite

TERMINAL = tuple(s for s in STATUS_TERMINAL if s != RunStatus.INTERRUPTED)  # the engine never reports interrupted
CREATED = "created"  # the engine's status before start(); a service run is `queued` then instead
SUSPEND = "suspend"
"""What `Trainer.should_stop` returns to pause a run within an epoch: the next train_epoch() goes on with it."""


class Measured(NamedTuple):
    """The model measured after an epoch: what becomes the epoch's record and its `histograms` and
    `surface` events. A run measures itself (`Trainer.measurement`); a sweep measures its stacked
    variants at once and hands each its own, the same numbers to float rounding.
    train, val: (loss, accuracy or R^2), NaN/inf as measured; penalties: (L2 part, L1 part);
    zero_fraction: per layer (`telemetry.zero_fractions`); layers: the record's per-layer probe
    entries (grad_norm, weight_norm, update_ratio, dead_fraction, saturated_fraction, active_fraction),
    None with telemetry off; histograms: the `histograms` event's layers, None when not due; surface:
    the `surface` event, None when not due; state: the epoch's checkpoint (a state dict of CPU tensors),
    None to take it from the model."""

    train: tuple[float, float]
    val: tuple[float, float]
    penalties: tuple[float, float]
    zero_fraction: dict[str, float | None]
    layers: dict[str, dict] | None
    histograms: dict[str, dict] | None
    surface: dict | None
    state: dict[str, torch.Tensor] | None = None


GPU_WORTH_PARAMS = 50_000  # below this an MLP trains faster on one CPU thread than through CUDA launches


def resolve_device(name: str, heavy: bool = True) -> torch.device:
    """`auto` takes the GPU only for work that profits from it (`heavy`: a CNN or a large model): tiny
    MLPs train slower through CUDA launches than on the CPU, CNNs faster (README, Performance, GPU:
    benchmarks/cuda_check.py). ValueError naming `training.device` for 'cuda' without a CUDA device."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("training.device: 'cuda' was asked for but no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() and heavy else "cpu"
    return torch.device(name)


class Trainer:
    def __init__(self, config: RunConfig | dict, source_loader: transfer.SourceLoader | None = None):
        cfg = config if isinstance(config, RunConfig) else RunConfig.model_validate(config)
        source_config = source_state = None
        if cfg.transfer is not None:
            source_config, source_state = resolve_source(cfg.transfer, source_loader)
            cfg = transfer.adopt_architecture(cfg, source_config)
        self.config = cfg
        torch.manual_seed(cfg.training.seed)  # dropout masks
        self.gen = torch.Generator().manual_seed(cfg.training.seed)  # weights, shuffling, augmentation

        data = datasets.load(cfg.dataset, cfg.preprocessing)
        split = datasets.Split(len(data.y_train), len(data.y_val), data.input_shape, data.n_classes)
        datasets.check_trainable(cfg, split, source_config)  # before any training step
        self.data = data
        self.regression = data.task == "regression"
        self.model = models.build(cfg.model, data.input_shape, data.n_classes, cfg.uses_cnn())
        initializers.initialize(self.model, cfg.init, self.gen)
        self.frozen: set[str] = set()
        scaled: set[str] = set()
        if cfg.transfer is not None:
            self.frozen, scaled = transfer.apply(self.model, source_state, cfg.transfer)
        heavy = cfg.uses_cnn() or models.count_params(self.model) >= GPU_WORTH_PARAMS
        self.device = resolve_device(cfg.training.device, heavy)
        self.model.to(self.device)

        dev = self.device
        self.x_train, self.y_train = data.x_train.to(dev), data.y_train.to(dev)
        self.x_val, self.y_val = data.x_val.to(dev), data.y_val.to(dev)
        self.x_probe = self.x_train[: cfg.telemetry.probe_size]
        self.y_probe = self.y_train[: cfg.telemetry.probe_size]

        opt = cfg.optimizer
        self.decayed = decayed_params(self.model, opt.decay_biases)
        decayed_ids = {id(p) for p in self.decayed}
        # One param group per distinct treatment (fewer groups = fewer optimizer kernels per step):
        # feature layers of a transfer may train with a scaled LR, and only decoupled decay (AdamW)
        # happens inside the step.
        split_decay = OPTIMIZERS[opt.name].decoupled_decay
        groups: dict[tuple[bool, bool], list] = {}
        for name, params in self.model.layer_params().items():
            for p in params:
                if p.requires_grad:
                    key = (name in scaled, split_decay and id(p) in decayed_ids)
                    groups.setdefault(key, []).append(p)
        scale = cfg.transfer.feature_lr_scale if cfg.transfer else 1.0
        # Group 0 holds unscaled parameters, so param_groups[0]["lr"] is "the" learning rate.
        param_groups = [
            {"params": ps, "lr": opt.lr * (scale if is_scaled else 1.0), "decay": decay}
            for (is_scaled, decay), ps in sorted(groups.items())
        ]
        self.optimizer = build_optimizer(opt, param_groups)
        self.schedule = Schedule(cfg.schedule, self.optimizer, cfg.training.epochs)
        # AdamW decays inside its step; everything else minimises loss + (1/2)*lambda*||w||^2.
        self.penalty_in_loss = opt.weight_decay > 0 and not OPTIMIZERS[opt.name].decoupled_decay

        self.tel = cfg.telemetry
        self.batch_size = min(cfg.training.batch_size, len(self.y_train))
        steps = -(-len(self.y_train) // self.batch_size)
        self.meter = telemetry.GradMeter(self.model, steps, self.tel.grad_samples) if self.tel.enabled else None
        self.checkpoints = CheckpointStore(self.tel.max_checkpoints)
        es = cfg.early_stopping
        self.stopper = (
            EarlyStopping(es.patience, es.min_delta, "min" if es.monitor == "val_loss" else "max")
            if es.enabled
            else None
        )
        self.augment = augmentation.is_active(cfg.augmentation, data.is_image)
        mc = self.tel.mc_samples if cfg.model.dropout > 0 or cfg.model.dropouts else 0
        self.output_view = outputs.OutputView(data, self.tel, self.device, self.x_val, self.y_val, mc)

        self.epoch = 0
        self.status: str = CREATED
        self.started = False
        self.history: list[dict] = []
        self.best_epoch: int | None = None
        self.best_val_loss = math.inf
        self.stopped_epoch: int | None = None
        self.restored_best = False
        self.message = ""
        self.claims: list[dict] = []
        self.t0 = time.perf_counter()
        # Asked between batches (may be None): a reason string stops the run within the epoch; SUSPEND
        # leaves the epoch where it is (a pause), and the next train_epoch() goes on with it.
        self.should_stop: Callable[[], str | None] | None = None
        self._stop_reason: str | None = None
        self._partial: tuple | None = None  # (x, perm, next batch start, t_epoch, suspended at)

    # ---- public interface -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def __iter__(self) -> Iterator[dict]:
        if not self.started:
            yield from self.start()
        while not self.done:
            yield from self.train_epoch()

    def start(self, measured: Measured | None = None) -> list[dict]:
        """The run_start event and epoch 0 (initial weights). `measured`: epoch 0's measurement already
        taken by a sweep, its gradient norms on the probe batch already recorded; None measures here."""
        self.started, self.status, self.t0 = True, RunStatus.RUNNING, time.perf_counter()
        out = [
            events.run_start(
                self.config.model_dump(mode="json"),
                models.count_params(self.model),
                self.model.describe(),
                self.data.summary(),
                str(self.device),
                sorted(self.frozen),
            )
        ]
        if self.tel.enabled and measured is None:  # gradient at initialization, on the probe batch, no update
            with self._unobserved():
                self.model.train()
                self._freeze_modes()
                self.optimizer.zero_grad(set_to_none=True)
                self._loss(self.model(self.x_probe), self.y_probe).backward()
                self.meter.reset()
                self.meter.record()
        out += self._end_of_epoch(0, time.perf_counter(), measured)
        if self.tel.enabled:
            self.optimizer.zero_grad(set_to_none=True)
        return out

    def train_epoch(self) -> list[dict]:
        """Train exactly one epoch and return its events: `epoch`, then `histograms` and `surface` when
        due, then markers; the last event is `run_end` when the run ends with this epoch. Before
        start(), it starts the run instead (epoch 0); after the end, it returns []. An epoch that
        `should_stop` suspended returns [] and the next call goes on with it."""
        if not self.started:
            return self.start()
        if self.done:
            return []
        if self._partial is not None:  # an epoch suspended by a pause goes on where it stopped
            x, perm, start, t_epoch, at = self._partial
            self._partial = None
            t_epoch += time.perf_counter() - at  # the pause is not the epoch's time
            self.model.train()
            self._freeze_modes()
            self._train_batches(x, perm, start, t_epoch)
        else:
            t_epoch = time.perf_counter()
            self.epoch += 1
            self._train_one_epoch(t_epoch)
        if self._partial is not None:  # paused (again) within the epoch: nothing to report yet
            return []
        if self._stop_reason is not None:  # stopped mid-epoch: the run ends at the last whole epoch
            return self.stop(self._stop_reason)
        return self._end_of_epoch(self.epoch, t_epoch)

    def step(self) -> list[dict]:
        """The same as `train_epoch()` (its first name, kept for callers)."""
        return self.train_epoch()

    def stop(self, reason: str = "stopped by the user") -> list[dict]:
        if self.done:
            return []
        if self._partial is not None or self._stop_reason is not None:
            # within an epoch: the run ends at its last whole epoch, with that epoch's weights
            self._partial = None
            self.epoch -= 1
            self.checkpoints.load_into(self.model, self.checkpoints.nearest(self.epoch))
        self.message = reason
        return self._finish(RunStatus.STOPPED)

    def load_epoch(self, epoch: int) -> int:
        """Put the weights of a stored epoch (or the nearest kept one) back into the model."""
        kept = self.checkpoints.nearest(epoch)
        self.checkpoints.load_into(self.model, kept)
        return kept

    def model_at(self, epoch: int | None) -> torch.nn.Module:
        if epoch is None:
            return self.model
        m = copy.deepcopy(self.model)
        self.checkpoints.load_into(m, self.checkpoints.nearest(epoch))
        return m

    def predict(self, raw_inputs, mc_samples: int = 0, epoch: int | None = None, knockout=()) -> dict:
        """Predictions for raw (unpreprocessed) inputs: class probabilities or regression values.
        With mc_samples > 1, dropout stays on for that many passes and `std` is their spread.
        `knockout`: (layer, unit) pairs of hidden units switched off (models.knocked_out)."""
        x = self.data.preprocess(torch.as_tensor(raw_inputs, dtype=torch.float32)).to(self.device)
        model = self.model_at(epoch)
        with models.knocked_out(model, knockout):
            if mc_samples > 1:
                mean, std = models.mc_predict(model, x, mc_samples, self.regression)
            else:
                mean = models.predict(model, x, self.regression)
                std = torch.zeros_like(mean)
        return {"mean": telemetry.round_list(mean, 6), "std": telemetry.round_list(std, 6)}

    def validation(self, knockout=()) -> dict:
        """The model's validation loss and accuracy (R^2 for regression) in evaluation mode, with the
        hidden units `knockout` ((layer, unit) pairs) switched off: {val_loss, val_acc | val_r2}."""
        was_training = self.model.training
        self.model.eval()
        try:
            with models.knocked_out(self.model, knockout):
                loss, score = self._evaluate(self.x_val, self.y_val)
        finally:
            self.model.train(was_training)
        return {"val_loss": _finite(loss), "val_r2" if self.regression else "val_acc": _finite(score)}

    def edit_weight(self, layer: str, index: list[int], value: float) -> list[dict]:
        """Set one weight (`index` [unit, input]) or bias (`index` [unit]) of the fully connected layer
        `layer` to `value`, between epochs (a paused run). The last epoch's checkpoint is saved again
        with the edit (not within a suspended epoch: its end saves it), so its exports and restores
        carry it; returns the `weight_edit` marker (layer, index, old, new) that records it.
        Raises ConfigError naming `layer`, `index` or `value` (models.weight_edit_errors)."""
        errors = models.weight_edit_errors(self.model, layer, index, value)
        if errors:
            raise ConfigError(errors[0]["field"], errors[0]["message"], errors[0]["type"], errors[0]["ctx"])
        module = self.model.weight_layers()[layer]
        param = module.weight if len(index) == 2 else module.bias
        with torch.no_grad():
            old = param[tuple(index)].item()
            param[tuple(index)] = float(value)
        if self._partial is None and self.epoch in self.checkpoints.epochs():
            self.checkpoints.save(self.epoch, self.model)
        return [events.marker(self.epoch, "weight_edit", layer=layer, index=list(index), old=old, new=float(value))]

    def summary(self) -> dict:
        """The run in one dict. `best_epoch`: the epoch early stopping would restore when it is
        enabled (best `early_stopping.monitor`, improvement > min_delta), else the lowest val_loss;
        `best_val_loss` is that epoch's validation loss. `final_*` describe the model handed back:
        the restored epoch's (`restored_epoch`) when the best weights were restored, else the last.
        `claims`: for a run whose config names a `lesson`, that lesson's run-scope claims measured on
        this run once it has ended ({id, holds, measured, threshold, en, es}); else empty."""
        last = self.history[-1] if self.history else {}
        if self.restored_best:
            last = self.history[self.best_epoch]
        return {
            "status": self.status,
            "epochs_run": self.epoch,
            "best_epoch": self.best_epoch,
            "best_val_loss": _finite(self.best_val_loss),
            "stopped_epoch": self.stopped_epoch,
            "restored_best": self.restored_best,
            "restored_epoch": self.best_epoch if self.restored_best else None,
            "final_train_loss": last.get("train_loss"),
            "final_val_loss": last.get("val_loss"),
            "final_val_acc": last.get("val_acc"),
            "final_val_r2": last.get("val_r2"),
            "message": self.message,
            "claims": self.claims,
        }

    # ---- internals ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _unobserved(self):
        """Measurements must not change the run: batch-norm running statistics are put back and the
        random streams (dropout masks) are forked, so telemetry on or off trains the same model."""
        buffers = {k: v.clone() for k, v in self.model.named_buffers()}
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices, device_type=self.device.type):
                yield
        finally:
            with torch.no_grad():
                for k, v in self.model.named_buffers():
                    v.copy_(buffers[k])

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.squeeze(-1), y) if self.regression else F.cross_entropy(out, y)

    def _freeze_modes(self) -> None:
        # Frozen layers stay in evaluation mode so batch-norm running statistics do not drift either.
        for name in self.frozen:
            self.model.blocks[name].eval()

    def _train_one_epoch(self, t_epoch: float) -> None:
        """Start epoch `self.epoch`: a fresh shuffle (and augmentation), then its batches."""
        model = self.model
        model.train()
        self._freeze_modes()
        x = self.x_train
        if self.augment:  # fresh augmented copies every epoch, training split only
            x = augmentation.augment(x.cpu(), self.config.augmentation, self.gen).to(self.device)
        if self.meter is not None:  # the update ratio compares the epoch's end with these weights
            self.meter.reset()
            self._w_before = telemetry.weight_copies(model)
        n, bs = len(self.y_train), self.batch_size
        perm = torch.randperm(n, generator=self.gen).to(self.device)
        if self.config.model.batch_norm and n % bs == 1:
            perm = perm[:-1]  # a batch of one sample has no batch statistics
        self._train_batches(x, perm, 0, t_epoch)

    def _train_batches(self, x: torch.Tensor, perm: torch.Tensor, start: int, t_epoch: float) -> None:
        """The epoch's batches from `start` on; between two, `should_stop` may stop or suspend it."""
        model, opt, bs = self.model, self.optimizer, self.batch_size
        lam, l1 = self.config.optimizer.weight_decay, self.config.optimizer.l1
        should_stop = self.should_stop
        for i in range(start, len(perm), bs):
            if should_stop is not None and (reason := should_stop()) is not None:
                if reason == SUSPEND:
                    self._partial = (x, perm, i, t_epoch, time.perf_counter())
                else:
                    self._stop_reason = reason
                return
            idx = perm[i : i + bs]
            loss = self._loss(model(x[idx]), self.y_train[idx])
            if self.penalty_in_loss:  # the course's L2: part of the loss, so part of the gradient
                loss = loss + l2_penalty(self.decayed, lam)
            if l1:  # with every optimizer, AdamW too: its decoupled decay is L2 only
                loss = loss + l1_penalty(self.decayed, l1)
            opt.zero_grad(set_to_none=True)  # None, not zeros: cheaper, and a parameter without gradient is skipped
            loss.backward()
            if self.meter is not None:  # the gradient norm the step is about to use
                self.meter.record()
            opt.step()

    @torch.no_grad()
    def _evaluate(self, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None = None) -> tuple[float, float]:
        """(loss, accuracy or R^2). Both are NaN when the loss is not finite: the arg-max of NaN
        outputs is an artefact of the tie-breaking, not a prediction."""
        if out is None:
            out = self.model(x)
        loss = self._loss(out, y).item()
        if not math.isfinite(loss):
            return loss, math.nan
        if self.regression:
            var = torch.var(y, unbiased=False).item()
            if var == 0:  # R^2 compares with the targets' spread: undefined for one sample (scikit-learn: NaN)
                return loss, math.nan
            score = 1.0 - torch.mean((out.squeeze(-1) - y) ** 2).item() / var
        else:
            score = (out.argmax(-1) == y).float().mean().item()
        return loss, score

    def _end_of_epoch(self, epoch: int, t_epoch: float, measured: Measured | None = None) -> list[dict]:
        """The events that close `epoch` (0: the initial weights), in this order: measurement, best
        epoch, the decision to stop, and, for a run that goes on, the next epoch's learning rate.
        `measured`: the model's measurement already taken by a sweep (see `Measured`); None measures here."""
        out, (train_loss, val_loss, val_score) = self._measure(epoch, t_epoch, measured)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            return out + self._diverge(epoch)  # no checkpoint: nothing can restore NaN weights
        if measured is not None and measured.state is not None:
            self.checkpoints.save(epoch, self.model, measured.state)
        else:
            self.checkpoints.save(epoch, self.model)
        stop_early, best = self._track_best(epoch, val_loss, val_score)
        out += best
        if (end := self._stopping(epoch, stop_early)) is not None:
            return out + end
        # A change decided after epoch E applies from epoch E+1, so a run that ends here announces none.
        return out + self._step_schedule(epoch, val_loss)

    def _measure(
        self, epoch: int, t_epoch: float, measured: Measured | None = None
    ) -> tuple[list[dict], tuple[float, float, float]]:
        """Evaluate the model after `epoch` (or take `measured`, the same numbers a sweep measured):
        appends its record to `history` and returns its events (`epoch`, then `histograms` and
        `surface` when due) with the raw (train loss, validation loss, validation accuracy or R^2),
        which may be NaN/inf."""
        m = measured if measured is not None else self.measurement(epoch)
        (train_loss, train_score), (val_loss, val_score) = m.train, m.val
        penalty_l2, penalty_l1 = m.penalties
        record = {
            "epoch": epoch,
            "train_loss": _finite(train_loss),
            "val_loss": _finite(val_loss),
            "penalty": _finite(penalty_l2 + penalty_l1),  # the whole term added to the loss
            "penalty_l2": _finite(penalty_l2),
            "penalty_l1": _finite(penalty_l1),
            "train_acc": None if self.regression else _finite(train_score),
            "val_acc": None if self.regression else _finite(val_score),
            "lr": self.schedule.lr,
            "grad_norm": {},
            "weight_norm": {},
            "update_ratio": {},
            "dead_fraction": {},
            "saturated_fraction": {},
            "active_fraction": {},
            "zero_fraction": m.zero_fraction,
        }
        if self.regression:
            record["train_r2"], record["val_r2"] = _finite(train_score), _finite(val_score)
        if m.layers is not None:
            record.update(m.layers)
        now = time.perf_counter()
        record["epoch_time"] = now - t_epoch
        record["time"] = now - self.t0
        self.history.append(record)

        out = [events.epoch(record)]
        if m.histograms is not None:
            out.append(events.histograms(epoch, m.histograms))
        if m.surface is not None:
            out.append(m.surface)
        return out, (train_loss, val_loss, val_score)

    def measurement(self, epoch: int) -> Measured:
        """This run's model measured after `epoch`, in evaluation mode (see `Measured`)."""
        model = self.model
        model.eval()  # every measurement below is in evaluation mode; the next epoch switches back
        probed = None
        if self.tel.enabled:
            due = self.tel.histogram_every and epoch % self.tel.histogram_every == 0
            probed = telemetry.probe(model, self.x_probe, self.tel.bins if due else None)
        # when the probe batch is the whole training split, its pass is the training evaluation too
        reuse = probed is not None and len(self.x_probe) == len(self.x_train)
        train = self._evaluate(self.x_train, self.y_train, probed.output if reuse else None)
        val = self._evaluate(self.x_val, self.y_val)
        opt_cfg = self.config.optimizer
        pens = tuple(p.item() for p in penalties(self.decayed, opt_cfg.weight_decay, opt_cfg.l1))
        layers = None
        if probed is not None:
            layers = {
                "grad_norm": self.meter.means(),
                "weight_norm": telemetry.weight_norms(model),
                "update_ratio": telemetry.update_ratios(model, self._w_before) if epoch else {},
                "dead_fraction": probed.dead_fraction,
                "saturated_fraction": probed.saturated_fraction,
                "active_fraction": probed.active_fraction,
            }
        hists = probed.histograms if probed is not None else None
        return Measured(train, val, pens, telemetry.zero_fractions(model), layers, hists, self.output_surface(epoch))

    def surface_due(self, epoch: int) -> bool:
        """Whether `epoch` has a `surface` event (telemetry.surface_every)."""
        return bool(self.tel.surface_every) and epoch % self.tel.surface_every == 0

    def output_surface(self, epoch: int) -> dict | None:
        """The output view's `surface` event of `epoch` for the model (in evaluation mode), or None when
        not due or the data have no view."""
        if not self.surface_due(epoch):
            return None
        # MC-dropout passes draw random masks; without them the view draws nothing and changes nothing
        with self._unobserved() if self.output_view.mc > 1 else contextlib.nullcontext():
            return self.output_view(self.model, epoch)

    def _track_best(self, epoch: int, val_loss: float, val_score: float) -> tuple[bool, list[dict]]:
        """Update the best epoch with `epoch`'s (finite) validation numbers and pin its checkpoint.
        Returns (early stopping asks to stop, the `best` marker when `epoch` is the new best)."""
        # Epoch 0 (the initial weights) is every comparison's baseline: the first best epoch, the
        # reference early stopping and the plateau schedule count epochs without improvement from.
        # Without early stopping the best epoch is the lowest validation loss, whatever `monitor` says.
        monitor = self.config.early_stopping.monitor if self.stopper is not None else "val_loss"
        monitored = val_loss if monitor == "val_loss" else val_score
        stop = False
        if self.stopper is not None:  # the best epoch is the one early stopping would restore
            stop = self.stopper.update(epoch, monitored)
            improved = self.stopper.best_epoch == epoch
        else:
            improved = val_loss < self.best_val_loss
        if not improved:
            return stop, []
        self.best_val_loss, self.best_epoch = val_loss, epoch
        self.checkpoints.pin("best", epoch)
        return stop, [events.marker(epoch, "best", val_loss=val_loss, monitor=monitor, value=monitored)]

    def _stopping(self, epoch: int, stop_early: bool) -> list[dict] | None:
        """The run's last events when it ends after `epoch` (early stopping fired, or the last
        epoch); None when it goes on. Epoch 0 never ends a run: no update has happened yet."""
        if epoch == 0:
            return None
        if stop_early:
            es = self.config.early_stopping
            self.stopped_epoch = epoch
            self.message = (
                f"{es.monitor} did not improve by more than {es.min_delta} for {self.stopper.wait} epochs "
                f"after epoch {self.best_epoch}"
            )
            marker = events.marker(epoch, "early_stop", best_epoch=self.best_epoch, reason=self.message)
            return [marker, *self._finish(RunStatus.EARLY_STOPPED)]
        if epoch >= self.config.training.epochs:
            return self._finish(RunStatus.COMPLETED)
        return None

    def _diverge(self, epoch: int) -> list[dict]:
        """End the run at `epoch`, whose loss is NaN/inf, with the measured cause as a marker."""
        cause, self.message, evidence = self._diagnose_divergence(epoch)
        marker = events.marker(epoch, "diverged", cause=cause, message=self.message, evidence=evidence)
        return [marker, *self._finish(RunStatus.DIVERGED)]

    def _step_schedule(self, epoch: int, val_loss: float) -> list[dict]:
        """Advance the LR schedule after `epoch` (epoch 0 gives the plateau schedule its reference);
        an `lr_change` marker when the next epoch's learning rate differs."""
        if epoch == 0:
            self.schedule.baseline(val_loss)
            return []
        lr = self.schedule.lr
        self.schedule.after_epoch(val_loss)
        if self.schedule.lr != lr:
            return [events.marker(epoch, "lr_change", old=lr, new=self.schedule.lr)]
        return []

    def _finish(self, status: str) -> list[dict]:
        out = []
        if (
            status in (RunStatus.EARLY_STOPPED, RunStatus.COMPLETED, RunStatus.STOPPED)
            and self.stopper is not None
            and self.config.early_stopping.restore_best
            and self.best_epoch is not None
            and self.best_epoch != self.epoch
        ):
            self.checkpoints.load_into(self.model, self.best_epoch)
            self.restored_best = True
            out.append(events.marker(self.epoch, "restore_best", restored_epoch=self.best_epoch))
        self.status = status
        if self.config.lesson is not None:
            self.claims = claims.evaluate_run(presets.claims(self.config.lesson), self)
        out.append(events.run_end(status, self.summary(), self.message))
        return out

    def _diagnose_divergence(self, epoch: int) -> tuple[str, str, dict]:
        """(cause, message, evidence) for a loss that became NaN/inf at `epoch`: the cause the run's
        own numbers show, never a guess.
          nonfinite_input   at epoch 0 (no update yet, so no step size is to blame), and the
                            preprocessed inputs or targets hold NaN/inf values;
          initial_overflow  at epoch 0 with finite data: the initial model's outputs overflow;
          weight_decay      the decay term alone makes the weights grow at this epoch's learning
                            rate (`optimizers.decay_growth` > 1: for SGD, 1 - lr*lambda < -1);
          input_scale       inputs not standardized and far from unit scale (mean squared norm s
                            above 100 per feature) with lr*s > 2: any step size is too large for them;
          learning_rate     otherwise: the loss was finite at epoch 0 and the decay is stable, so
                            the gradient steps themselves blew the loss up.
        `evidence` holds the measured numbers the message quotes (JSON-safe)."""
        if epoch == 0:
            return self._diagnose_initial()
        prefix = f"The loss became NaN/infinite at epoch {epoch}"
        opt = self.config.optimizer
        lr, lam = self.schedule.lr, opt.weight_decay
        finite = [r for r in self.history if r["epoch"] < epoch]  # every earlier epoch had finite losses
        # (a decay that applies to no parameter, e.g. every weight frozen, cannot be the cause)
        growth = decay_growth(opt, lr, self.penalty_in_loss) if lam > 0 and self.decayed else 0.0
        if growth > 1:
            return self._weight_decay_diagnosis(prefix, lr, growth, finite)
        if not self.config.preprocessing.standardize:
            found = self._input_scale_diagnosis(prefix, lr)
            if found is not None:
                return found
        return self._learning_rate_diagnosis(prefix, lr, growth, finite)

    def _diagnose_initial(self) -> tuple[str, str, dict]:
        """`nonfinite_input` or `initial_overflow` (see `_diagnose_divergence`) for a loss already
        NaN/inf at epoch 0."""
        prefix = (
            "The loss was already NaN/infinite at epoch 0, before any update, so neither the learning rate "
            "nor the weight decay caused it"
        )
        tensors = [self.x_train, self.x_val] + ([self.y_train, self.y_val] if self.regression else [])
        bad = [int((~torch.isfinite(t)).sum()) for t in tensors]
        n_inputs = self.x_train.numel() + self.x_val.numel()
        if any(bad):
            evidence = {"nonfinite_inputs": bad[0] + bad[1], "inputs": n_inputs, "nonfinite_targets": sum(bad[2:])}
            what = f"{evidence['nonfinite_inputs']} of the {n_inputs} input values"
            if evidence["nonfinite_targets"]:
                what += f" and {evidence['nonfinite_targets']} target values"
            return (
                "nonfinite_input",
                f"{prefix}: {what} are NaN or infinite after preprocessing (float32 holds at most "
                "about 3.4e38). Fix or remove those values in the data.",
                evidence,
            )
        largest = max(t.abs().max().item() for t in tensors[:2] if t.numel())
        with torch.no_grad():
            outputs = self.model(self.x_train)
        n_bad = int((~torch.isfinite(outputs)).sum())
        evidence = {"max_abs_input": largest, "nonfinite_outputs": n_bad, "outputs": outputs.numel()}
        if n_bad:
            seen = f"{n_bad} of its {outputs.numel()} outputs on the training inputs are NaN/infinite"
        else:
            evidence["max_abs_output"] = outputs.abs().max().item()
            seen = f"its outputs reach |y| = {evidence['max_abs_output']:.3g}, too large for the loss"
        hint = "switch standardization on, or " if not self.config.preprocessing.standardize else ""
        return (
            "initial_overflow",
            f"{prefix}: the inputs are finite (largest |x| = {largest:.3g}) but the initial model overflows "
            f"float32 (about 3.4e38): {seen}. To keep the signal small, {hint}start from smaller weights "
            f"(init.scheme {self.config.init.scheme!r}).",
            evidence,
        )

    def _weight_decay_diagnosis(self, prefix: str, lr: float, growth: float, finite: list[dict]):
        """`weight_decay` (see `_diagnose_divergence`): the decay term alone grows the weights
        `growth` times per step at learning rate `lr`; `finite` holds the epoch records before the loss broke."""
        opt = self.config.optimizer
        lam = opt.weight_decay
        linear = OPTIMIZERS[opt.name].linear_decay  # its decay step is exactly w <- (1 - lr*lambda) w
        evidence = {"lr": lr, "weight_decay": lam, "decay_growth": growth}
        if linear:
            evidence["step_factor"] = 1 - lr * lam
            how = (
                f"each step multiplies the decayed weights by 1 - lr*lambda = 1 - {lr:g}*{lam:g} = "
                f"{1 - lr * lam:g}, below -1"
            )
        else:
            how = f"with {opt.name}, the decay term alone multiplies the weights' size by {growth:.3g} per step"
        norms = [(r["epoch"], math.sqrt(2 * r["penalty_l2"] / lam)) for r in finite if r["penalty_l2"] is not None]
        seen = ""
        if len(norms) > 1:
            (e0, n0), (e1, n1) = norms[0], norms[-1]
            evidence["weight_norms"] = {str(e0): n0, str(e1): n1}
            seen = f"; their norm went from {n0:.3g} at epoch {e0} to {n1:.3g} at epoch {e1}"
        if linear:
            fix = f"Keep lr*lambda below 2: lower optimizer.weight_decay below {2 / lr:.3g} at this learning rate"
        else:
            fix = "Lower optimizer.weight_decay"
        return (
            "weight_decay",
            f"{prefix} because of the weight decay (lambda {lam:g}) at learning rate {lr:g}: {how}, so the "
            f"weights oscillate and grow {growth:.3g}x per step whatever the data say{seen}. {fix}, or lower "
            f"the learning rate.",
            evidence,
        )

    def _input_scale_diagnosis(self, prefix: str, lr: float) -> tuple[str, str, dict] | None:
        """`input_scale` (see `_diagnose_divergence`) when the unstandardized inputs are far from unit
        scale and lr*s > 2; None otherwise."""
        # A gradient step on the first layer scales with the inputs' squared norm s (for a linear
        # model under squared error the step is stable only while lr*s < 2). Inputs far from unit
        # scale (s > 100 per feature) make any learning rate too large: that, not lr, is the cause.
        x = self.x_train.double().flatten(1)
        s, width = x.square().sum(1).mean().item(), x.shape[1]
        if not (s > 100 * width and lr * s > 2):
            return None
        largest = x.abs().max().item()
        evidence = {"lr": lr, "mean_squared_input_norm": s, "max_abs_input": largest, "lr_times_s": lr * s}
        return (
            "input_scale",
            f"{prefix}: the inputs are not standardized and reach |x| = {largest:.3g} (mean squared norm "
            f"s = {s:.3g}, about {width} on standardized inputs). A gradient step scales with s, so "
            f"lr*s = {lr * s:.3g} is far above 2 at learning rate {lr:g}. Switch standardization on "
            "(preprocessing.standardize), or rescale the data.",
            evidence,
        )

    def _learning_rate_diagnosis(self, prefix: str, lr: float, growth: float, finite: list[dict]):
        """`learning_rate` (see `_diagnose_divergence`): the loss was finite before and the decay is
        stable, so the gradient steps blew it up."""
        first, last = finite[0], finite[-1]
        evidence = {"lr": lr, "initial_train_loss": first["train_loss"], "last_finite_epoch": last["epoch"]}
        trend = f"It was finite at epoch 0 (train loss {first['train_loss']:.4g})"
        if last is not first:
            evidence["last_finite_train_loss"] = last["train_loss"]
            trend += f" and still at epoch {last['epoch']} ({last['train_loss']:.4g})"
        decay = ""
        if self.config.optimizer.weight_decay > 0:
            evidence["decay_growth"] = growth
            decay = f", and the weight decay alone does not make the weights grow (x{growth:.3g} per step)"
        hint = "" if self.config.preprocessing.standardize else ", or switch standardization on"
        return (
            "learning_rate",
            f"{prefix} with learning rate {lr:g}. {trend}, so the data and the initial weights are fine{decay}: "
            f"the gradient steps blew it up. The learning rate is probably too high for this model and data: "
            f"try a smaller one{hint}.",
            evidence,
        )


def builtin_source() -> tuple[dict, dict[str, torch.Tensor]]:
    """A CNN trained on digits 0-4, made deterministically on first use and cached on disk
    (transfer.py keeps the cache file; the training is here because the source is trained by this same engine,
    and transfer.py stays free of the trainer)."""
    cached = transfer.cached_builtin()
    if cached is not None:
        return cached
    trainer = Trainer(RunConfig.model_validate(transfer.BUILTIN_CONFIG))
    for _ in trainer:
        pass
    state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    transfer.cache_builtin(state)
    return transfer.BUILTIN_CONFIG, state


def resolve_source(cfg: TransferConfig, loader: transfer.SourceLoader | None) -> tuple[dict, dict[str, torch.Tensor]]:
    if cfg.source == transfer.BUILTIN_DIGITS:
        return builtin_source()
    if cfg.source.startswith("builtin:"):
        raise ValueError(f"transfer.source: unknown built-in source {cfg.source!r} (known: {transfer.BUILTIN_DIGITS})")
    if loader is None:
        raise ValueError(f"transfer.source: run {cfg.source!r} cannot be looked up here")
    return loader(cfg.source)
