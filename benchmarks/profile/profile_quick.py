"""Where the quick experiment's time goes: a measured profile, written as profile.json + summary.md.

    python benchmarks/profile/profile_quick.py [--results results/quick] [--iters 5] [--out benchmarks/profile]

One thread, the quick experiment's shapes (config/config.yaml, real embedded data), every number
measured by this script (nothing typed in):

1. the calibration workload (robgan/calibration.py), so every time below can be read as a multiple;
2. each training method's step under torch.profiler, float32 and bf16 autocast (where the CPU has
   it), with the ops' self time grouped into convolution forward/backward, normalisation, pooling and
   resampling, activations and element-wise, copies and casts, the optimiser's step and the rest;
   "framework/Python" = wall time minus the ops' self time;
3. the evaluations' attacks on a quick-sized classifier: one paper-protocol PGD (20 steps) on an
   eval batch of 200 and APGD-CE (20 iterations, AutoAttack's library) on 100 images, float32 and bf16;
4. the start-up of a job: ``python -c "import torch"``, ``robgan --help``, and the imports a training
   or evaluation job makes (median of 3 fresh processes);
5. from a finished DAG's benchmark files (``--results``): job seconds per rule and, for training,
   the share that is start-up, snapshots and checkpoints (job seconds minus train_log's
   train_seconds) and for evaluations job seconds minus the record's elapsed_seconds.

The machine may be shared: the calibration's CPU time against its wall time says how busy it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from robgan import provenance as prov  # noqa: E402
from robgan.calibration import run_calibration  # noqa: E402

CATEGORIES = [  # (category, substrings of op names), first match wins
    ("conv backward", ("convolution_backward",)),
    ("conv forward", ("convolution", "conv2d")),
    ("optimiser step", ("Optimizer.step", "_foreach_", "adam")),
    ("normalisation", ("batch_norm", "layer_norm")),
    ("pool / upsample", ("pool", "upsample")),
    ("copies and casts", ("copy_", "_to_copy", "contiguous", "clone")),
    ("matmul / linear", ("addmm", "mm", "linear", "embedding")),
]
METHODS = ("sngan", "acgan", "robgan", "advtrain", "robgan_ft")


def _category(name: str) -> str:
    low = name.lower()
    for cat, keys in CATEGORIES:
        if any(k.lower() in low for k in keys):
            return cat
    return "activations, element-wise, other ops"


def profile_call(fn, iters: int) -> dict:
    """Run ``fn`` ``iters`` times under torch.profiler (after 2 warm-up calls): wall ms per call and
    the ops' self time per category (ms per call)."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(2):
        fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        wall = (time.perf_counter() - t0) / iters
    cats: dict[str, float] = {}
    # top-level optimiser events hold their children's time: count only self time of every event
    for e in prof.key_averages():
        cats[_category(e.key)] = cats.get(_category(e.key), 0.0) + e.self_cpu_time_total / 1e6 / iters
    ops = sum(cats.values())
    cats["framework / Python (wall - ops)"] = max(wall - ops, 0.0)
    return {"ms": 1e3 * wall, "categories_ms": {k: 1e3 * v for k, v in sorted(cats.items(), key=lambda kv: -kv[1])}}


def training_steps(iters: int, bf16_ok: bool) -> dict:
    from robgan.bench.shapes import ContextFactory, get_shape
    from robgan.training.methods import METHODS as SPECS

    out = {}
    for method in METHODS:
        for bf16 in (False, True) if bf16_ok else (False,):
            perf = {"bf16": bf16, "channels_last": True, "compile": False}
            ctx = ContextFactory(torch.device("cpu"), performance=perf, overrides=[]).build(
                get_shape("embedded"), method)
            step = SPECS[method].step
            out[f"{method} {'bf16' if bf16 else 'fp32'}"] = profile_call(lambda: step(ctx), iters)  # noqa: B023
            print(f"  {method} bf16={bf16}: {out[f'{method} ' + ('bf16' if bf16 else 'fp32')]['ms']:.0f} ms",
                  file=sys.stderr)
    return out


def attacks(iters: int, bf16_ok: bool) -> dict:
    """PGD (paper protocol) and APGD-CE on a quick-width classifier whose labels are its own
    predictions (so every image is attacked, as on a trained model's clean-correct ones)."""
    from robgan.attacks import ThreatModel, pgd_classifier
    from robgan.bench.shapes import ContextFactory, get_shape
    from robgan.evaluation.autoattack import build_adversary

    ctx = ContextFactory(torch.device("cpu"), performance={"bf16": False, "channels_last": True, "compile": False},
                         overrides=[]).build(get_shape("embedded"), "advtrain")
    clf = ctx.classifier.eval()
    x = ctx.stream.images[:200].float().div(255).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = clf(x).argmax(1)
    threat = ThreatModel.fractional(0.1, 20, 0.2)
    out = {}
    for bf16 in (False, True) if bf16_ok else (False,):
        tag = "bf16" if bf16 else "fp32"

        def pgd_once(bf16=bf16):
            with prov.autocast(torch.device("cpu"), bf16):
                pgd_classifier(clf, x, y, threat)

        out[f"PGD 20 steps x 200 images {tag}"] = profile_call(pgd_once, max(1, iters // 2))
        adv, _ = build_adversary(clf, eps=0.1, version="custom", attacks=["apgd-ce"], n_classes=10,
                                 n_target_classes=3, apgd_iterations=20, seed=0, device="cpu")

        def apgd_once(bf16=bf16, adv=adv):
            with prov.autocast(torch.device("cpu"), bf16):
                adv.apgd.perturb(x[:100], y[:100])

        out[f"APGD-CE 20 iterations x 100 images {tag}"] = profile_call(apgd_once, 1)
        print(f"  attacks {tag} done", file=sys.stderr)
    return out


def startup() -> dict:
    """Seconds of fresh processes (median of 3)."""
    py = sys.executable
    cmds = {
        "python -c 'import torch'": [py, "-c", "import torch"],
        "robgan --help (no torch)": [py, "-m", "robgan", "--help"],
        "imports of a training job": [py, "-c", "import robgan.training, robgan.cli"],
        "imports of an evaluation job": [py, "-c", "import robgan.evaluation.autoattack, "
                                                   "robgan.evaluation.commands, robgan.records"],
    }
    out = {}
    for name, cmd in cmds.items():
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def dag_jobs(results: Path) -> dict:
    """Per rule: jobs, job seconds summed, and the seconds outside the work (start-up, I/O)."""
    rules: dict[str, dict] = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent.name != "benchmarks" else tsv.stem
        with open(tsv) as fh:
            seconds = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
        work = None
        name = tsv.stem
        if rule in ("train", "finetune"):
            method, seed = name.rsplit("_seed", 1)
            log = results / "runs" / method / f"seed{seed}" / "train_log.csv"
            if log.is_file():
                rows = list(csv.DictReader(log.open()))
                work = float(rows[-1]["train_seconds"]) if rows else None
        elif rule.startswith("eval_"):
            rec = results / "records" / rule[5:] / f"{name}.json"
            if rec.is_file():
                work = json.loads(rec.read_text()).get("elapsed_seconds")
        r = rules.setdefault(rule, {"jobs": 0, "seconds": 0.0, "outside_work_seconds": 0.0, "with_work": 0})
        r["jobs"] += 1
        r["seconds"] += seconds
        if work is not None:
            r["outside_work_seconds"] += seconds - float(work)
            r["with_work"] += 1
    dag = results / "dag_run.json"
    return {"rules": rules, "dag_run": json.loads(dag.read_text()) if dag.is_file() else None}


def render(res: dict) -> str:
    cal = res["calibration"]
    lines = ["# Where the quick experiment's time goes (measured)", "",
             f"Written by `benchmarks/profile/profile_quick.py` on {res['created']} ({res['host']}, torch "
             f"{res['torch']}, one thread). Calibration: **{cal['seconds']:.2f} s** wall, "
             f"{cal['cpu_seconds']:.2f} s CPU (wall/CPU {cal['seconds'] / cal['cpu_seconds']:.2f}: 1.0 on a quiet "
             f"machine; above it, other processes shared the cores and every time below is inflated about as "
             f"much). 'x cal' = milliseconds / calibration milliseconds. bf16 = autocast through oneDNN "
             f"({'available' if res['bf16_supported'] else 'NOT available'} on this CPU).", ""]
    for title, key in (("Training steps (one iteration each, channels-last)", "training"),
                       ("Evaluation attacks (quick-width classifier)", "attacks")):
        items = res[key]
        cats = sorted({c for v in items.values() for c in v["categories_ms"]},
                      key=lambda c: -sum(v["categories_ms"].get(c, 0) for v in items.values()))
        lines += [f"## {title}", "", "ms per call, and the share of each kind of work:", "",
                  "| what | ms | x cal | " + " | ".join(cats) + " |",
                  "|---|--:|--:|" + "--:|" * len(cats)]
        for name, v in items.items():
            shares = [f"{100 * v['categories_ms'].get(c, 0) / v['ms']:.0f} %" for c in cats]
            xcal = v["ms"] / 1e3 / cal["seconds"]
            lines.append(f"| {name} | {v['ms']:.0f} | {xcal:.4f} | " + " | ".join(shares) + " |")
        lines.append("")
    lines += ["## Start-up of a job (fresh process, median of 3)", "", "| what | s |", "|---|--:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in res["startup"].items()] + [""]
    dag = res.get("dag")
    if dag:
        lines += [f"## The DAG's jobs (`{res['results']}`)", "",
                  "Outside the work: job seconds minus train_log's train_seconds (training: start-up, data, "
                  "snapshots, checkpoints) or minus the record's elapsed_seconds (evaluations: start-up, "
                  "loading).", "",
                  "| rule | jobs | job s (sum) | share | outside the work, s (sum) |", "|---|--:|--:|--:|--:|"]
        total = sum(r["seconds"] for r in dag["rules"].values())
        for rule, r in sorted(dag["rules"].items(), key=lambda kv: -kv[1]["seconds"]):
            outside = f"{r['outside_work_seconds']:.0f} ({r['with_work']} jobs)" if r["with_work"] else "–"
            share = 100 * r["seconds"] / total
            lines.append(f"| {rule} | {r['jobs']} | {r['seconds']:.0f} | {share:.0f} % | {outside} |")
        run = dag.get("dag_run")
        if run:
            multiple = (f"{run['wall_multiple']:g}x its own calibration" if run.get("wall_multiple")
                        else "recorded without a calibration")
            lines += ["", f"Wall-clock of that DAG: {run['wall_seconds']:.0f} s on {run['cores']} cores ({multiple})."]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=REPO / "results" / "quick")
    ap.add_argument("--iters", type=int, default=5, help="profiled calls per training step")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "profile")
    ap.add_argument("--render", action="store_true", help="only re-render summary.md from --out's profile.json")
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads((args.out / "profile.json").read_text())
        (args.out / "summary.md").write_text(render(res))
        return 0
    torch.set_num_threads(1)
    bf16_ok = prov.bf16_supported(torch.device("cpu"))
    print("calibration", file=sys.stderr)
    res = {"created": prov.utc_now(), "host": prov.device_name(torch.device("cpu")), "torch": torch.__version__,
           "bf16_supported": bf16_ok, "calibration": run_calibration()}
    print("training steps", file=sys.stderr)
    res["training"] = training_steps(args.iters, bf16_ok)
    print("attacks", file=sys.stderr)
    res["attacks"] = attacks(args.iters, bf16_ok)
    print("start-up", file=sys.stderr)
    res["startup"] = startup()
    if (args.results / "benchmarks").is_dir():
        res["results"] = str(args.results.resolve().relative_to(REPO)) if args.results.resolve().is_relative_to(
            REPO) else str(args.results)
        res["dag"] = dag_jobs(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps(res, indent=1) + "\n")
    (args.out / "summary.md").write_text(render(res))
    print(f"wrote {args.out / 'profile.json'} and {args.out / 'summary.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
