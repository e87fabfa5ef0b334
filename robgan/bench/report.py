"""Rendering and writing bench results (JSON + Markdown), and projecting the GPU-hours of a config."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from robgan import provenance as prov
from robgan import registry
from robgan.bench import PROXIES
from robgan.bench.shapes import shape_of_dataset

_MIB = 1024 * 1024


def _kernels(compute: dict | None) -> str:
    """`` · kernels AVX2 (bf16 not native)``: the CPU kernel set of the result (absent before it was recorded)."""
    if not compute or compute.get("device_type") != "cpu":
        return ""
    bf16 = "native" if compute["bf16_native"] else "not native: bf16 settings run float32"
    return f" · kernels {compute['cpu_capability']} (bf16 {bf16})"


def _fmt(v, spec: str = ".4g", none: str = "–") -> str:
    if v is None:
        return none
    if isinstance(v, str):
        return v
    return format(v, spec)


def _ms(seconds: float) -> str:
    """Milliseconds, 4 significant digits below 10 s, whole milliseconds above (no exponents)."""
    ms = 1e3 * seconds
    return f"{ms:.4g}" if abs(ms) < 1e4 else f"{ms:.0f}"


def _xcal(seconds: float, cal: dict | None) -> str:
    """``seconds`` as a multiple of the calibration (``–`` without one)."""
    return f"{seconds / cal['seconds']:.4f}" if cal and cal.get("seconds") else "–"


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


def _perf(perf: dict, method: str | None = None) -> str:
    """``bf16 channels_last`` — the switches that are on (``fp32`` when none is). The evaluation PGD
    (``method == "pgd"``) is governed by ``bf16_attacks``, the training steps by ``bf16``."""
    keys = ("bf16_attacks", "channels_last", "compile") if method == "pgd" else ("bf16", "channels_last", "compile")
    return " ".join(k for k in keys if perf.get(k)) or "fp32"


def render_markdown(res: dict) -> str:
    """The result as a Markdown report: settings, one table per measurement, targets, definitions."""
    dev, st = res["device"], res["settings"]
    git = res.get("git") or {}
    lines = [f"# robgan bench — {dev['description']}", ""]
    lines += [
        f"- created: {res['created']} · git {git.get('commit') or 'unknown'}"
        f"{' (dirty)' if git.get('dirty') else ''} · torch {dev['torch']}"
        f"{' · CUDA ' + str(dev['cuda']) if dev['type'] == 'cuda' else ''} · threads {dev['threads']}"
        f"{_kernels(dev.get('compute'))}",
        f"- shapes: {', '.join(st['shapes'])} · methods: {', '.join(st['methods'])}",
        f"- performance: `{json.dumps(st['performance'])}` · overrides: `{st['overrides'] or 'none'}`",
        f"- repeats {st['repeats']} · warm-up {st['warmup']} · iters/repeat "
        f"{st['iters'] if st['iters'] is not None else 'auto (~' + str(st['target_repeat_s']) + ' s/repeat)'}"
        f"{' · QUICK (smoke test)' if st['quick'] else ''} · elapsed {res['elapsed_seconds']:.0f} s",
    ]
    if st.get("note"):
        lines.append(f"- note: {st['note']}")
    cal = res.get("calibration")
    if cal:
        lines.append(f"- calibration: **{cal['seconds']:.3f} s** (CPU {cal.get('cpu_seconds', '?')} s; "
                     f"{cal['workload']}); ms/iter below are also given as multiples of it (x cal)")
    lines += [""] + [f"- `{k}`: {v}" for k, v in st["shape_descriptions"].items()] + [""]

    if res.get("comparison"):
        lines += ["## Old and new settings side by side", "",
                  f"Baseline: `{json.dumps(st.get('baseline'))}` changed in the benchmarked settings; each pair "
                  "measured in this run, one after the other. The training steps follow `bf16`, the "
                  "evaluation's PGD follows `bf16_attacks`; a row whose two settings are the same measures "
                  "the same work twice: its ratio is the noise of this machine.", "",
                  "| shape | method | baseline | benchmarked | baseline ms/iter | ms/iter | speedup |",
                  "|---|---|---|---|--:|--:|--:|"]
        for c in res["comparison"]:
            old, new = _perf(c["baseline_performance"], c["method"]), _perf(c["performance"], c["method"])
            lines.append(f"| {c['shape']} | {c['method']} | `{old}` | `{new}` | {_ms(c['baseline_seconds'])} "
                         f"| {_ms(c['seconds'])} | **{c['speedup']:.2f}x** |")
        lines.append("")

    lines += ["## Throughput", "",
              "| shape | method | batch | real img/iter | ms/iter (median) | x cal | IQR ms | iter/s | images/s "
              "| peak MiB | Δ MiB | GFLOP/iter | GFLOP/s | TFLOP/s | % of peak | host syncs/iter |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in res["results"]:
        t = r["seconds_per_iter"]
        frac = r["fraction_of_peak"]
        frac_s = f"{100 * frac:.1f}% ({r['peak_dtype']})" if isinstance(frac, float) else _fmt(frac)
        flops = r["flops_per_iter"]
        lines.append(
            f"| {r['shape']} | {r['method']} | {r['batch_size']} | {r['images_per_iter']} "
            f"| {_ms(t['median'])} | {_xcal(t['median'], cal)} | {_ms(t['iqr'])} | {r['iterations_per_s']:.4g} "
            f"| {r['images_per_s']:.4g} | {r['memory']['peak_bytes'] / _MIB:.0f} "
            f"| {r['memory']['delta_bytes'] / _MIB:.0f} | {_fmt(flops / 1e9 if flops else None)} "
            f"| {_fmt(r['achieved_gflops_per_s'])} | {_fmt(r['achieved_tflops_per_s'], '.3g')} | {frac_s} "
            f"| {_fmt(r.get('host_syncs_per_iter'))} |")
    kinds = sorted({r["memory"]["kind"] for r in res["results"]})
    lines += ["", f"Memory: {'; '.join(kinds)}.", ""]
    syncing = [r for r in res["results"] if r.get("host_syncs_per_iter")]
    if syncing:
        lines += ["Host syncs in the inner loop (each makes the host wait for the GPU):", ""]
        lines += [f"- {r['shape']} / {r['method']}: {r['host_sync_ops']}" for r in syncing] + [""]

    if res["breakdown"]:
        lines += ["## Rob-GAN step cost breakdown (one generator iteration)", "",
                  "Target: step / (pgd + d_update + g_update) ≤ "
                  f"{res['targets']['step_over_parts_max']}.", ""]
        for b in res["breakdown"]:
            sec = b["seconds"]
            lines += [f"### {b['shape']} (n_dis = {b['n_dis']}, batch {b['batch_size']}, "
                      f"{b['attack']['steps']} PGD steps)", "",
                      "| part | ms | share of step |", "|---|--:|--:|"]
            for k in ("data", "pgd", "fakes_for_d", "d_update", "g_update"):
                lines.append(f"| {k} | {_ms(sec[k])} | {100 * b['shares'][k]:.1f}% |")
            lines += [f"| other (step − parts) | {_ms(b['other_seconds'])} "
                      f"| {100 * b['shares']['other']:.1f}% |",
                      f"| **step** | **{_ms(sec['step'])}** | 100% |", "",
                      f"step / (pgd + d_update + g_update) = **{b['ratio']:.3f}** "
                      f"(target ≤ {b['target']}: **{_ok(b['met'])}**)", ""]

    if res["pgd_efficiency"]:
        lines += ["## PGD efficiency", "",
                  f"Target: bare / pgd ≥ {res['targets']['pgd_efficiency_min']}.", "",
                  "| shape | attack | batch | steps | PGD ms | bare ms | bare ms, params frozen "
                  "| efficiency | target |",
                  "|---|---|--:|--:|--:|--:|--:|--:|---|"]
        for e in res["pgd_efficiency"]:
            lines.append(f"| {e['shape']} | {e['attack']} | {e['batch_size']} | {e['steps']} "
                         f"| {_ms(e['pgd_seconds'])} | {_ms(e['bare_seconds'])} "
                         f"| {_ms(e['bare_params_frozen_seconds'])} | {e['efficiency']:.3f} "
                         f"| {_ok(e['met'])} |")
        lines.append("")

    lines += ["## Definitions", ""] + [f"- **{k}**: {v}" for k, v in res["definitions"].items()] + [""]
    return "\n".join(lines)


def result_stem(res: dict) -> str:
    """``bench-<device-slug>-<YYYYmmdd-HHMM>`` from the result's device and creation time (UTC)."""
    created = datetime.strptime(res["created"], "%Y-%m-%dT%H:%M:%SZ")
    return f"bench-{res['device']['slug']}-{created:%Y%m%d-%H%M}"


def write_result(res: dict, out: str | Path) -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``latest-<device-slug>.md`` (a copy) into ``out``.

    A result is never overwritten: when ``<stem>.json`` exists already (two runs in the same minute,
    e.g. an fp32 and a bf16 bench of a quick check), the stem gets ``-2``, ``-3``, ...
    """
    out = Path(out)
    base = stem = result_stem(res)
    n = 1
    while (out / f"{stem}.json").exists() or (out / f"{stem}.md").exists():
        n += 1
        stem = f"{base}-{n}"
    md = render_markdown(res)
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md",
             "latest": out / f"latest-{res['device']['slug']}.md"}
    prov.atomic_write_json(paths["json"], res)
    prov.atomic_write_text(paths["md"], md)
    prov.atomic_write_text(paths["latest"], md)
    return paths


def newest_result(directory: str | Path) -> Path:
    """The most recently written ``bench-*.json`` of ``directory``."""
    found = sorted(Path(directory).glob("bench-*.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no bench-*.json in {directory}; run `robgan bench` first "
                                "or pass --bench-json")
    return found[-1]


# --------------------------------------------------------------------------------------------------
# GPU-hour projection

# A label is timed by its own measurement, else by its method's (robgan_ft_nofake by robgan_ft), else
# by its proxy (PROXIES: the methods not benchmarked by default).
_PROXY_NOTES = {
    "acgan": "proxy sngan (same G/D passes, no attack; AC head instead of SN + projection)",
    "acgan_newloss": "proxy sngan (same G/D passes, no attack; AC head instead of SN + projection)",
    "robgan_oldloss": "proxy robgan (same passes, other loss)",
    "robgan_ft_nofake": "proxy robgan_ft with lam > 0 (an upper bound: lam = 0 skips the fake PGD)",
}


def project_hours(bench: dict, cfg: dict) -> dict:
    """Projected device-hours of every run of an experiment config from a bench result.

    hours per seed = iterations × median seconds per iteration / 3600, where iterations are
    ``train.iterations`` (GAN methods), ``advtrain.iterations`` and ``finetune.iterations``, for every
    run label of the config (:func:`robgan.registry.experiment_labels`: with ``robgan`` in ``methods``,
    one fine-tuning run per ``finetune_lambdas`` entry); total = hours per seed × ``len(seeds)``. Training
    only (evaluation is not included). Rows whose benchmark used another batch size or model than the
    config are flagged in ``notes``.
    """
    shape = shape_of_dataset(cfg["data"]["name"]).name
    measured = {r["method"]: r for r in bench["results"] if r["shape"] == shape and r["kind"] == "train_step"}
    if not measured:
        raise ValueError(f"the bench result has no training-step measurement of shape '{shape}' "
                         f"(the shape of data.name = {cfg['data']['name']}); "
                         f"run robgan bench --shapes {shape}")
    seeds = len(cfg["seeds"])
    runs: list[tuple[str, str, int]] = []  # (label, method timed, iterations)
    for label in registry.experiment_labels(cfg):
        info = registry.label_info(label).info
        runs.append((label, info.name, int(cfg[info.section]["iterations"])))
    rows, total = [], 0.0
    for label, method, iters in runs:
        notes = []
        rec = measured.get(label) or measured.get(method)
        source = label if label in measured else method
        if rec is None and PROXIES.get(label) in measured:
            rec, source = measured[PROXIES[label]], PROXIES[label]
        if rec is None and PROXIES.get(method) in measured:
            rec, source = measured[PROXIES[method]], PROXIES[method]
        if source != label and label in _PROXY_NOTES:
            notes.append(_PROXY_NOTES[label])
        if rec is None:
            rows.append({"label": label, "method": method, "iterations": iters, "seconds_per_iter": None,
                         "hours_per_seed": None, "seeds": seeds, "hours_total": None,
                         "measured_as": None, "notes": [f"not measured: add '{method}' to --methods"]})
            continue
        section = cfg[registry.method_info(rec["method"]).section]
        if int(section["batch_size"]) != int(rec["batch_size"]):
            notes.append(f"bench batch {rec['batch_size']} != config {section['batch_size']}")
        for key in ("ngf", "ndf", "z_dim", "d_arch"):
            if str(cfg["model"][key]) != str(rec["model"][key]):
                notes.append(f"bench model.{key} {rec['model'][key]} != config {cfg['model'][key]}")
        bench_perf, cfg_perf = rec.get("performance") or {}, cfg.get("performance") or {}
        for key in sorted(set(bench_perf) | set(cfg_perf)):
            if bench_perf.get(key) != cfg_perf.get(key):
                notes.append(f"bench performance.{key}={bench_perf.get(key)}, config {cfg_perf.get(key)}")
        sec = float(rec["seconds_per_iter"]["median"])
        hours = iters * sec / 3600.0
        total += hours * seeds
        rows.append({"label": label, "method": method, "iterations": iters, "seconds_per_iter": sec,
                     "hours_per_seed": hours, "seeds": seeds, "hours_total": hours * seeds,
                     "measured_as": source, "notes": notes})
    missing = [r["label"] for r in rows if r["hours_total"] is None]
    return {"kind": "bench_projection", "experiment": cfg["experiment"], "shape": shape, "missing": missing,
            "device": bench["device"]["description"], "device_slug": bench["device"]["slug"],
            "bench_created": bench["created"], "bench_quick": bench["settings"].get("quick", False),
            "rows": rows, "hours_total": total,
            "definition": "hours = iterations x median seconds/iteration (bench) / 3600, x seeds; "
                          "training only, no evaluation, no checkpoint I/O"}


def render_projection(proj: dict) -> str:
    lines = [f"# Projected training hours — {proj['experiment']} on {proj['device']}", "",
             f"From the bench result of {proj['bench_created']} (shape `{proj['shape']}`"
             f"{', QUICK smoke-test timings' if proj['bench_quick'] else ''}). {proj['definition']}.", "",
             "| run | iterations | s/iter | hours/seed | seeds | hours total | timed as | notes |",
             "|---|--:|--:|--:|--:|--:|---|---|"]
    for r in proj["rows"]:
        lines.append(f"| {r['label']} | {r['iterations']} | {_fmt(r['seconds_per_iter'])} "
                     f"| {_fmt(r['hours_per_seed'], '.3g')} | {r['seeds']} | {_fmt(r['hours_total'], '.3g')} "
                     f"| {r['measured_as'] or '–'} | {'; '.join(r['notes'])} |")
    total = proj["hours_total"]
    missing = proj.get("missing") or []
    label = f"total of the {len(proj['rows']) - len(missing)} timed runs" if missing else "total"
    lines += [f"| **{label}** | | | | | **{total:.3g}** | | |", ""]
    if missing:
        lines.append(f"Not timed (not in the total): {', '.join(missing)}.")
    if not math.isfinite(total):
        lines.append("(total is not finite)")
    return "\n".join(lines)


def write_projection(proj: dict, out: str | Path) -> dict[str, Path]:
    out = Path(out)
    stem = f"projection-{proj['experiment']}-{proj['device_slug']}"
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md"}
    prov.atomic_write_json(paths["json"], proj)
    prov.atomic_write_text(paths["md"], render_projection(proj))
    return paths
