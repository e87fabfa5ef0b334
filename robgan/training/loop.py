"""The one training loop: budget, schedule, logging, snapshots, checkpoints, crash safety.

A run directory is resumable: rerunning the same command continues from ``checkpoint.pt`` with
bit-identical results on the CPU; a different configuration is refused. SIGTERM/SIGINT (what SLURM
sends before pre-emption) write a checkpoint and stop with exit status 143/130; a non-finite loss
stops the run and leaves the last good checkpoint in place.
"""

from __future__ import annotations

import csv
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from robgan import provenance as prov
from robgan.config import attack_reaches_eps, dump_config, training_hash, training_view
from robgan.training.context import Context
from robgan.training.methods import get_method

log = logging.getLogger("robgan.train")


class RunMismatchError(RuntimeError):
    """The run directory holds a run of another configuration."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite."""


class Interrupted(SystemExit):
    """SIGTERM/SIGINT arrived; a checkpoint was written. Exit status 143 (TERM) or 130 (INT)."""


def _check_config(out: Path, cfg: dict) -> None:
    path = out / "config.yaml"
    if path.exists():
        with open(path) as fh:
            old = yaml.safe_load(fh)
        if training_hash(old) != training_hash(cfg):
            changed = sorted(_diff(training_view(old), training_view(cfg)))
            raise RunMismatchError(
                f"{out} holds a run with another configuration (hash {training_hash(old)} != "
                f"{training_hash(cfg)}; differing fields: {', '.join(changed) or '?'}). Use a new --out "
                f"directory, or delete {out} to start over.")
    else:
        prov.atomic_write_text(path, dump_config(cfg))


def _diff(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in set(a) | set(b):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def _attack_record(ctx: Context) -> dict | None:
    """The training attack as the manifest records it: eps, step size, steps, random start, how far
    steps × step size reaches, and whether some pixel can reach eps (None: no attack)."""
    t = ctx.threat
    if t is None:
        return None
    attack = {"eps": t.eps, "step_size": t.step_size, "steps": t.steps, "random_start": t.random_start,
              "reach": t.steps * t.step_size}
    attack["reaches_eps"] = attack_reaches_eps(attack)
    return attack


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop log rows written after the checkpoint we resume from (they will be written again)."""
    if not path.exists():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= iteration]
    prov.atomic_write_text(path, "".join(",".join(r) + "\n" for r in keep))


def train_run(cfg: dict, out: str | Path, *, progress: bool | None = None) -> Path:
    """Train (or resume, or skip if finished) the run that ``cfg["run"]`` describes into ``out``.

    The named steps, in order: :func:`_check_config` (refuse another configuration's directory),
    :func:`_build_context` (device, threads, seed, models), :func:`_open_manifest` (provenance, resumes),
    :func:`_restore` (checkpoint and log), :func:`_iterate` (the loop), :func:`_finish` (final
    checkpoint, manifest, ``model.pt``).

    Args:
        cfg: resolved config with a ``run`` section ``{method, label, seed, init_from}``.
        out: the run directory (created).
        progress: show a tqdm bar (default: only when stderr is a terminal).

    Returns:
        The path of the finished ``model.pt``.
    """
    run = _RunFiles(Path(out))
    run.out.mkdir(parents=True, exist_ok=True)
    spec = get_method(cfg["run"]["method"])
    _check_config(run.out, cfg)
    if run.model.exists():
        log.info("%s is complete (model.pt exists); nothing to do", run.out)
        return run.model
    ctx = _build_context(cfg, spec)
    manifest = _open_manifest(cfg, spec, ctx, run)
    start, train_seconds = _restore(ctx, run)
    _write_manifest_start(run, manifest, start)
    train_seconds = _iterate(ctx, run, start, train_seconds, progress)
    _finish(ctx, run, manifest, start, train_seconds)
    return run.model


@dataclass(frozen=True)
class _RunFiles:
    """The files of one run directory."""

    out: Path

    @property
    def model(self) -> Path:
        return self.out / "model.pt"

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def log(self) -> Path:
        return self.out / "train_log.csv"

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.json"


def _build_context(cfg: dict, spec) -> Context:
    """Device, torch threads and seed of the run, then its freshly built training state."""
    device = prov.resolve_device(cfg["device"])
    prov.configure_threads(cfg["threads"])
    prov.seed_everything(int(cfg["run"]["seed"]))
    init_from = cfg["run"].get("init_from")
    return Context(cfg, spec, device, Path(init_from) if init_from else None)


def _open_manifest(cfg: dict, spec, ctx: Context, run: _RunFiles) -> dict:
    """The run's manifest (provenance, method, training attack); warns about an attack that cannot
    reach eps."""
    attack = _attack_record(ctx)
    if attack is not None and not attack["reaches_eps"]:
        log.warning("%s: the %s attack cannot reach eps (%d steps x %g = %g < eps %g, no random start); "
                    "allowed by %s.attack_allow_unreachable and recorded in manifest.json", run.out,
                    spec.section, attack["steps"], attack["step_size"], attack["reach"], attack["eps"],
                    spec.section)
    return prov.build_manifest(cfg_hash=training_hash(cfg), seed=int(cfg["run"]["seed"]), device=ctx.device,
                               extra={"method": spec.name, "label": cfg["run"]["label"],
                                      "init_from": cfg["run"].get("init_from"), "attack": attack,
                                      "performance": ctx.performance_record()})


def _restore(ctx: Context, run: _RunFiles) -> tuple[int, float]:
    """Load the checkpoint if there is one (and drop log rows written after it); returns the iteration
    to start from and the training seconds already spent."""
    if run.checkpoint.exists():
        state = prov.torch_load(run.checkpoint, map_location=ctx.device)
        ctx.load_state_dict(state)
        start = int(state["iteration"])
        _truncate_log(run.log, start)
        log.info("resuming %s from iteration %d", run.out, start)
        return start, float(state["train_seconds"])
    if run.log.exists():
        # a log without a checkpoint is an earlier run's (e.g. the train logs committed with results/):
        # this run starts at iteration 0, so its log starts afresh instead of being appended to that one
        log.info("%s: no checkpoint; replacing the earlier run's %s", run.out, run.log.name)
        run.log.unlink()
    return 0, 0.0


def _write_manifest_start(run: _RunFiles, manifest: dict, start: int) -> None:
    """Write the manifest of a starting (or resumed) run: first start time kept, resumes appended."""
    if run.manifest.exists():
        old = json.loads(run.manifest.read_text())
        manifest["start_time"] = old.get("start_time", prov.utc_now())
        manifest["resumes"] = old.get("resumes", []) + ([{"time": prov.utc_now(), "iteration": start}])
    else:
        manifest["start_time"] = prov.utc_now()
        manifest["resumes"] = []
    manifest["end_time"] = None
    prov.atomic_write_json(run.manifest, manifest)


def _iterate(ctx: Context, run: _RunFiles, start: int, train_seconds: float, progress: bool | None) -> float:
    """Iterations ``start`` .. ``ctx.total``: the method's step, then at its intervals the log row,
    snapshot and checkpoint; a signal checkpoints and raises :class:`Interrupted`. Returns the training
    seconds (I/O excluded)."""
    cfg, spec, device = ctx.cfg, ctx.spec, ctx.device
    columns = ["iteration", "train_seconds", *spec.log_keys]
    new_log = not run.log.exists()
    log_fh = open(run.log, "a", newline="")
    writer = csv.writer(log_fh)
    if new_log:
        writer.writerow(columns)
        log_fh.flush()

    stop_signal: list[int] = []

    def _on_signal(signum, _frame):
        stop_signal.append(signum)

    old_handlers = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    total = ctx.total
    sums: dict[str, torch.Tensor] = {}
    n_in_window = 0
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=total, initial=start, desc=f"{spec.name} seed {cfg['run']['seed']}", disable=not show,
               dynamic_ncols=True)

    def _sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def _check_finite(iteration: int) -> None:
        bad = [k for k, v in sums.items() if not torch.isfinite(v).all()]
        if bad:
            raise NonFiniteLossError(
                f"non-finite {', '.join(bad)} between iterations {iteration - n_in_window} and {iteration} "
                f"of {run.out}; the last good checkpoint ({run.checkpoint.name}) is kept. Lower the learning "
                f"rate or check the data.")

    try:
        tick = time.perf_counter()
        for it in range(start, total):
            ctx.apply_schedule(it)
            metrics = spec.step(ctx)
            for k, v in metrics.items():
                sums[k] = sums[k] + v if k in sums else v.clone()
            n_in_window += 1
            done = it + 1
            bar.update(1)
            is_log = done % cfg["log_every"] == 0 or done == total
            is_snap = done % cfg["snapshot_every"] == 0 or done == total
            is_ckpt = done % cfg["checkpoint_every"] == 0 and done < total
            if not (is_log or is_snap or is_ckpt or stop_signal):
                continue
            _sync()
            train_seconds += time.perf_counter() - tick  # I/O below is not training time
            _check_finite(done)
            if is_log:
                means = {k: (sums[k] / n_in_window).item() for k in spec.log_keys if k in sums}
                writer.writerow([done, f"{train_seconds:.3f}",
                                 *(f"{means[k]:.6g}" if k in means else "" for k in spec.log_keys)])
                log_fh.flush()
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()})
                if not show:
                    log.info("iter %d/%d  %.1fs  %s", done, total, train_seconds,
                             "  ".join(f"{k}={v:.4f}" for k, v in means.items()))
                sums, n_in_window = {}, 0
            if is_snap:
                _snapshot(ctx, done, train_seconds, run.out / "snapshots" / f"iter_{done:07d}.pt")
            if is_ckpt or stop_signal:
                _checkpoint(ctx, done, train_seconds, run.checkpoint)
            if stop_signal:
                signum = stop_signal[0]
                log.warning("signal %d: checkpoint written at iteration %d; rerun the same command to resume",
                            signum, done)
                raise Interrupted(128 + signum)
            tick = time.perf_counter()
    finally:
        bar.close()
        log_fh.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
    return train_seconds


def _checkpoint(ctx: Context, iteration: int, train_seconds: float, path: Path) -> None:
    state = ctx.state_dict()
    state.update(iteration=iteration, train_seconds=train_seconds)
    prov.atomic_torch_save(state, path)


def _snapshot(ctx: Context, iteration: int, train_seconds: float, path: Path) -> None:
    payload = ctx.model_payload()
    payload.update(iteration=iteration, train_seconds=train_seconds)
    prov.atomic_torch_save(payload, path)


def _finish(ctx: Context, run: _RunFiles, manifest: dict, start: int, train_seconds: float) -> None:
    """Final checkpoint (when this invocation trained), the manifest's end, and ``model.pt`` — the
    completion marker, written last and atomically."""
    total = ctx.total
    if start < total:
        _checkpoint(ctx, total, train_seconds, run.checkpoint)
    manifest["end_time"] = prov.utc_now()
    manifest["train_seconds"] = train_seconds
    manifest["iterations"] = total
    prov.atomic_write_json(run.manifest, manifest)
    _snapshot(ctx, total, train_seconds, run.model)
