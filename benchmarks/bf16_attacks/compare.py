"""Does a bf16 PGD evaluation attack as hard as the float32 one? Per classifier of a finished experiment.

For every classifier run of ``<results>/runs`` (seed directories), the evaluation's PGD sweep
(``robgan.evaluation.robustness.pgd_sweep``: clean + the paper and strong protocols over ``eval.pgd.eps``
on the config's test subset, the same images and attack seed) runs twice in one process, one thread:
attacks in float32, then under bf16 autocast (``performance.bf16_attacks``; verdicts in float32 both
times). It writes ``results.json`` (per classifier, protocol and ε: both accuracies, the per-image
outcomes of both, the images only one of them broke, the seconds of each sweep) and ``summary.md``.

A bf16 attack that is weaker breaks fewer images: ``bf16_only_robust`` (robust under bf16, broken under
float32) counts them. Usage::

    python benchmarks/bf16_attacks/compare.py results/quick --out benchmarks/bf16_attacks
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import torch


def _runs(results: Path) -> list[Path]:
    from robgan.training.methods import get_method

    out = []
    for seed_dir in sorted(results.glob("runs/*/seed*")):
        cfg_file = seed_dir / "manifest.json"
        if not (seed_dir / "model.pt").is_file() or not cfg_file.is_file():
            continue
        method = json.loads(cfg_file.read_text()).get("method")
        if method and get_method(method).has_classifier:
            out.append(seed_dir)
    return out


def main(argv: list[str] | None = None) -> int:
    from robgan import calibration
    from robgan import provenance as prov
    from robgan.config import load_config
    from robgan.evaluation.context import eval_subset, open_run
    from robgan.evaluation.robustness import PGDProtocol, pgd_sweep

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="a finished experiment folder with runs/ and config.yaml")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device("cpu")
    if not prov.bf16_supported(device):
        raise SystemExit("this CPU has no native bf16 (AVX-512-BF16/AMX): nothing to compare")
    cfg = load_config(args.results / "config.yaml")
    ev, pcfg = cfg["eval"], cfg["eval"]["pgd"]
    protocols = [PGDProtocol.from_config(name, pcfg[name]) for name in ("paper", "strong")]
    cal = calibration.run_calibration()
    rows = []
    for run_dir in _runs(args.results):
        ctx = open_run(run_dir, cfg, device)
        x, y, _ = eval_subset(ctx.data_cfg, "test", pcfg["n_examples"], ev["index_seed"])
        sweeps, secs = {}, {}
        for name, bf16 in (("float32", False), ("bf16", True)):
            t0 = time.perf_counter()
            sweeps[name] = pgd_sweep(ctx.model, x, y, pcfg["eps"], protocols, batch_size=int(ev["batch_size"]),
                                     device=device, attack_seed=int(ev["attack_seed"]), progress=False, bf16=bf16)
            secs[name] = time.perf_counter() - t0
        for (proto, eps), ok32 in sweeps["float32"].robust.items():
            ok16 = sweeps["bf16"].robust[(proto, eps)]
            rows.append({"run": str(run_dir.relative_to(args.results)), "protocol": proto, "eps": eps,
                         "n": int(y.numel()), "accuracy_float32": float(ok32.float().mean()),
                         "accuracy_bf16": float(ok16.float().mean()),
                         "bf16_only_robust": int((ok16 & ~ok32).sum()),
                         "float32_only_robust": int((ok32 & ~ok16).sum()),
                         "correct_float32": "".join("1" if v else "0" for v in ok32.tolist()),
                         "correct_bf16": "".join("1" if v else "0" for v in ok16.tolist()),
                         "sweep_seconds_float32": secs["float32"], "sweep_seconds_bf16": secs["bf16"]})
        print(f"{run_dir}: float32 {secs['float32']:.1f} s, bf16 {secs['bf16']:.1f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "results": str(args.results),
            "host": prov.device_name(device), "torch": torch.__version__,
            "calibration": cal, "threads": 1}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = [f"# bf16 vs float32 PGD evaluation attacks ({args.results})", "",
             f"Written by `benchmarks/bf16_attacks/compare.py` on {meta['created']}, one thread, torch "
             f"{torch.__version__}; calibration {cal['seconds']:.2f} s wall / {cal['cpu_seconds']:.2f} s CPU "
             "(equal on a quiet machine). The same images, protocols and attack seed; verdicts in float32.", "",
             "| run | protocol | ε | n | accuracy float32 | accuracy bf16 | robust only under bf16 "
             "| robust only under float32 |",
             "|---|---|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['protocol']} | {r['eps']:g} | {r['n']} | {r['accuracy_float32']:.3f} | "
                     f"{r['accuracy_bf16']:.3f} | {r['bf16_only_robust']} | {r['float32_only_robust']} |")
    t32 = sum({r["run"]: r["sweep_seconds_float32"] for r in rows}.values())
    t16 = sum({r["run"]: r["sweep_seconds_bf16"] for r in rows}.values())
    n_img = sum(r["n"] for r in rows)
    lines += ["", f"Sweeps: {t32:.1f} s float32, {t16:.1f} s bf16 ({t32 / max(t16, 1e-9):.2f}x) over "
              f"{len({r['run'] for r in rows})} classifiers. Image-attacks in total: {n_img}; robust only "
              f"under bf16: {sum(r['bf16_only_robust'] for r in rows)}, only under float32: "
              f"{sum(r['float32_only_robust'] for r in rows)}."]
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
