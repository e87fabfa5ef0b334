"""The one training loop: budget, schedule, logging, snapshots, checkpoints, crash safety.

A run directory is resumable: rerunning the same command continues from ``checkpoint.pt`` with
bit-identical results on the CPU; a different configuration is refused. SIGTERM/SIGINT (what SLURM
sends before pre-emption) write a checkpoint and stop with exit status 143/130; a non-finite loss
stops the run and leaves the last good checkpoint in place.
"""

from __future__ import annotations

import csv
import logging
import signal
import sys
import time
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

    Args:
        cfg: resolved config with a ``run`` section ``{method, label, seed, init_from}``.
        out: the run directory (created).
        progress: show a tqdm bar (default: only when stderr is a terminal).

    Returns:
        The path of the finished ``model.pt``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = get_method(cfg["run"]["method"])
    _check_config(out, cfg)
    model_path = out / "model.pt"
    if model_path.exists():
        log.info("%s is complete (model.pt exists); nothing to do", out)
        return model_path

    device = prov.resolve_device(cfg["device"])
    prov.configure_threads(cfg["threads"])
    seed = int(cfg["run"]["seed"])
    prov.seed_everything(seed)
    init_from = cfg["run"].get("init_from")
    ctx = Context(cfg, spec, device, Path(init_from) if init_from else None)

    ckpt_path, log_path = out / "checkpoint.pt", out / "train_log.csv"
    start, train_seconds = 0, 0.0
    manifest_path = out / "manifest.json"
    attack = _attack_record(ctx)
    if attack is not None and not attack["reaches_eps"]:
        log.warning("%s: the %s attack cannot reach eps (%d steps x %g = %g < eps %g, no random start); "
                    "allowed by %s.attack_allow_unreachable and recorded in manifest.json", out, spec.section,
                    attack["steps"], attack["step_size"], attack["reach"], attack["eps"], spec.section)
    manifest = prov.build_manifest(cfg_hash=training_hash(cfg), seed=seed, device=device,
                                   extra={"method": spec.name, "label": cfg["run"]["label"],
                                          "init_from": init_from, "attack": attack})
    if ckpt_path.exists():
        state = prov.torch_load(ckpt_path, map_location=device)
        ctx.load_state_dict(state)
        start, train_seconds = int(state["iteration"]), float(state["train_seconds"])
        _truncate_log(log_path, start)
        log.info("resuming %s from iteration %d", out, start)
    elif log_path.exists():
        # a log without a checkpoint is an earlier run's (e.g. the train logs committed with results/):
        # this run starts at iteration 0, so its log starts afresh instead of being appended to that one
        log.info("%s: no checkpoint; replacing the earlier run's %s", out, log_path.name)
        log_path.unlink()
    if manifest_path.exists():
        import json

        old = json.loads(manifest_path.read_text())
        manifest["start_time"] = old.get("start_time", prov.utc_now())
        manifest["resumes"] = old.get("resumes", []) + ([{"time": prov.utc_now(), "iteration": start}])
    else:
        manifest["start_time"] = prov.utc_now()
        manifest["resumes"] = []
    manifest["end_time"] = None
    prov.atomic_write_json(manifest_path, manifest)

    columns = ["iteration", "train_seconds", *spec.log_keys]
    new_log = not log_path.exists()
    log_fh = open(log_path, "a", newline="")
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
    bar = tqdm(total=total, initial=start, desc=f"{spec.name} seed {seed}", disable=not show,
               dynamic_ncols=True)

    def _sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def _check_finite(iteration: int) -> None:
        bad = [k for k, v in sums.items() if not torch.isfinite(v).all()]
        if bad:
            raise NonFiniteLossError(
                f"non-finite {', '.join(bad)} between iterations {iteration - n_in_window} and {iteration} "
                f"of {out}; the last good checkpoint ({ckpt_path.name}) is kept. Lower the learning "
                f"rate or check the data.")

    def _checkpoint(iteration: int) -> None:
        state = ctx.state_dict()
        state.update(iteration=iteration, train_seconds=train_seconds)
        prov.atomic_torch_save(state, ckpt_path)

    def _snapshot(iteration: int, path: Path) -> None:
        payload = ctx.model_payload()
        payload.update(iteration=iteration, train_seconds=train_seconds)
        prov.atomic_torch_save(payload, path)

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
                _snapshot(done, out / "snapshots" / f"iter_{done:07d}.pt")
            if is_ckpt or stop_signal:
                _checkpoint(done)
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

    if start < total:
        _checkpoint(total)
    manifest["end_time"] = prov.utc_now()
    manifest["train_seconds"] = train_seconds
    manifest["iterations"] = total
    prov.atomic_write_json(manifest_path, manifest)
    _snapshot(total, model_path)  # the completion marker, written last and atomically
    return model_path
