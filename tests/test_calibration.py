"""The fixed calibration workload (robgan/calibration.py)."""

from __future__ import annotations

import torch

from robgan import calibration


def test_calibration_runs_one_thread_and_restores_the_callers_threads():
    before = torch.get_num_threads()
    res = calibration.run_calibration(iterations=1, repeats=2)
    assert torch.get_num_threads() == before
    assert res["iterations"] == 1 and len(res["repeats_seconds"]) == 2
    assert res["seconds"] == min(res["repeats_seconds"]) > 0
    assert 0 < res["cpu_seconds"] <= res["seconds"] * 1.05 + 0.01   # one thread: CPU time <= wall time
    assert res["workload"].startswith("1 GAN iterations") and res["version"] == calibration._VERSION
    # the machine's kernel set beside its time: multiples compare between machines of one kind
    from robgan.provenance import compute_fingerprint
    assert res["compute"] == compute_fingerprint("cpu")
    # the same workload in the DAG's precision and layout (channels-last; bf16 only where native)
    nat = res["native"]
    assert nat["seconds"] == min(nat["repeats_seconds"]) > 0 and len(nat["repeats_seconds"]) == 2
    assert nat["settings"] == ("channels-last, bf16 autocast" if res["compute"]["bf16_native"] else
                               "channels-last, float32 (bf16 not native)")


def test_the_workload_does_not_depend_on_the_config():
    # the defaults are the documented workload: 10 iterations, minimum of 3 repeats
    assert calibration.ITERATIONS == 10 and calibration.REPEATS == 3
    assert calibration.WORKLOAD.startswith("10 GAN iterations") and "1 thread" in calibration.WORKLOAD


def test_multiple():
    assert calibration.multiple(600.0, {"seconds": 4.0}) == 150.0
    assert calibration.multiple(600.0, None) is None
    assert calibration.multiple(600.0, {"seconds": 0}) is None
