"""benchmarks/gpu_check.sh, the GPU session's one script, run end to end on the CPU with tiny settings:
every step succeeds and the bundle a GPU machine hands back holds every result but no model file."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_script_runs_every_step_and_bundles_the_results(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / "subset.npz"
    np.savez(npz, x_train=rng.integers(0, 256, (128, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(128) % 10, x_test=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
             y_test=np.arange(20) % 10)
    results, bundle = tmp_path / "results", tmp_path / "gpu-check.tgz"
    env = {**os.environ, "DEVICE": "cpu", "QUICK": "1", "SHAPES": "embedded", "METHODS": "robgan",
           "PROJECT": "config/config.yaml", "ITERS": "2", "NPZ": str(npz), "RESULTS": str(results),
           "BUNDLE": str(bundle), "PY": sys.executable, "COMPILE": "0",  # CPU compile: >= 28 s a step
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    steps = ["env", "bench-fp32", "bench-fast", "project-config-fp32", "project-config-fast",
             "cifar10-run", "cifar10-grid"]
    for name in steps:
        assert f"== {name}: ok" in out, name
    assert "FAILED" not in out
    assert "== bench-compile" not in out  # COMPILE=0 skips it
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".pt")]
    files = [Path(n).name for n in names]
    assert sum(f.startswith("bench-") and f.endswith(".json") for f in files) == 2  # fp32 and fast, both kept
    assert any(f.startswith("projection-quick-") and f.endswith(".md") for f in files)
    assert any(n.endswith("/samples.png") for n in names)
    assert {f"./gpu-check-{s}.log" for s in steps} <= set(names)
