"""robgan.provenance: atomic writes, safe loading, git state, devices, threads, seeding, manifests."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from robgan import provenance
from robgan.provenance import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    build_manifest,
    configure_threads,
    git_info,
    resolve_device,
    seed_everything,
    torch_load,
)


def _only(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_text_replaces_and_leaves_no_temp(tmp_path):
    f = tmp_path / "sub" / "dir" / "a.txt"     # parents are created
    atomic_write_text(f, "first\n")
    assert f.read_text() == "first\n"
    atomic_write_text(f, "second, longer content\n")
    assert f.read_text() == "second, longer content\n"
    atomic_write_text(f, "x")                  # shorter: no leftover bytes of the old content
    assert f.read_bytes() == b"x"
    assert _only(f) == ["a.txt"]


def test_atomic_write_bytes_and_json(tmp_path):
    b = tmp_path / "b.bin"
    atomic_write_bytes(b, bytes(range(256)))
    assert b.read_bytes() == bytes(range(256))
    j = tmp_path / "r.json"
    obj = {"kind": "pgd", "results": [{"eps": 0.1, "accuracy": 0.5, "random_start": False}], "x": None}
    atomic_write_json(j, obj)
    assert json.loads(j.read_text()) == obj
    assert j.read_text().endswith("\n")
    assert _only(j) == ["b.bin", "r.json"]


def test_failing_writer_leaves_old_file_intact(tmp_path):
    f = tmp_path / "model.pt"
    atomic_write_text(f, "old content")

    def bad(fh):
        fh.write(b"partial garbage")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        provenance._atomic_replace(f, bad)
    assert f.read_text() == "old content"
    assert _only(f) == ["model.pt"]


def test_failing_torch_save_leaves_old_file_intact(tmp_path):
    f = tmp_path / "ckpt.pt"
    atomic_torch_save({"w": torch.ones(2)}, f)
    with pytest.raises(Exception):   # noqa: B017 (pickling a lambda fails; the type varies by version)
        atomic_torch_save({"w": torch.zeros(2), "bad": lambda: 0}, f)
    assert torch.equal(torch_load(f)["w"], torch.ones(2))
    assert _only(f) == ["ckpt.pt"]


def test_interrupt_also_cleans_up(tmp_path):
    f = tmp_path / "x.txt"

    def interrupted(fh):
        fh.write(b"abc")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        provenance._atomic_replace(f, interrupted)
    assert not f.exists()
    assert list(tmp_path.iterdir()) == []


def test_torch_roundtrip_weights_only(tmp_path):
    f = tmp_path / "snap.pt"
    g = torch.Generator().manual_seed(0)
    state = {
        "iteration": 1000, "train_seconds": 61.25, "label": "robgan",
        "generator": {"w": torch.randn(3, 4, generator=g), "b": torch.arange(3)},
        "rng": torch.get_rng_state(), "list": [1, 2.5, None],
    }
    atomic_torch_save(state, f)
    got = torch_load(f)
    assert got["iteration"] == 1000 and got["train_seconds"] == 61.25 and got["label"] == "robgan"
    assert torch.equal(got["generator"]["w"], state["generator"]["w"])
    assert torch.equal(got["generator"]["b"], state["generator"]["b"])
    assert got["generator"]["b"].dtype == torch.int64
    assert torch.equal(got["rng"], state["rng"])
    assert got["list"] == [1, 2.5, None]
    assert _only(f) == ["snap.pt"]


def test_torch_load_refuses_arbitrary_objects(tmp_path):
    f = tmp_path / "evil.pt"
    torch.save({"obj": Path("/x")}, f)   # not a plain type: weights_only must refuse it
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        torch_load(f)


# --------------------------------------------------------------------------- git, packages, device


def test_git_info_shape_and_values():
    info = git_info()
    assert set(info) == {"commit", "dirty"}
    assert info["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert info["dirty"] is None or isinstance(info["dirty"], bool)


def test_git_info_outside_a_repo(tmp_path):
    info = git_info(tmp_path)
    assert info == {"commit": None, "dirty": None}


def test_git_info_of_a_fresh_repo(tmp_path):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, env=env)

    try:
        git("init", "-q")
        (tmp_path / "f.txt").write_text("a")
        git("add", "f.txt")
        git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "init")
    except (OSError, subprocess.CalledProcessError) as exc:   # pragma: no cover (no git binary)
        pytest.skip(f"git unavailable: {exc}")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert git_info(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.csv").write_text("1")
    git("add", "results/r.csv")
    git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "results")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (tmp_path / "results" / "r.csv").write_text("2")  # a run rewrote a committed output: not dirty
    assert git_info(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f.txt").write_text("b")
    assert git_info(tmp_path) == {"commit": head, "dirty": True}
    assert re.fullmatch(r"[0-9a-f]{40}", head)


def test_package_versions():
    v = provenance.package_versions()
    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"] == torch.__version__
    assert v["numpy"] == np.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v["python"])


def test_resolve_device_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_cuda_without_cuda_raises():
    with pytest.raises(RuntimeError, match="no CUDA device") as info:
        resolve_device("cuda")
    assert "device: auto" in str(info.value)


def test_device_name_cpu():
    name = provenance.device_name(torch.device("cpu"))
    assert name.startswith("cpu:")
    assert f"{os.cpu_count()} cores" in name


# --------------------------------------------------------------------------- threads and seeds


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_configure_threads_honours_omp(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert configure_threads(0) == 1
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert configure_threads(0) == 2
    assert torch.get_num_threads() == 2


def test_configure_threads_explicit_wins(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert configure_threads(1) == 1
    assert torch.get_num_threads() == 1


def test_configure_threads_without_env_keeps_default(monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(1)
    assert configure_threads(0) == 1           # unchanged
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert configure_threads(0) == 1


def test_seed_everything_is_reproducible():
    # The legacy global NumPy RNG is what seed_everything seeds, so it is what this test reads.
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)  # noqa: NPY002

    seed_everything(123)
    a = draw()
    seed_everything(123)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    seed_everything(124)
    c = draw()
    assert c[0] != a[0] and c[1] != a[1] and not torch.equal(c[2], a[2])
    seed_everything(2**32 + 5)                  # large seeds are folded for NumPy
    x = draw()[1]
    seed_everything(5)
    assert draw()[1] == x


def test_build_manifest():
    m = build_manifest(cfg_hash="0123456789abcdef", seed=3, device=torch.device("cpu"),
                       extra={"method": "robgan", "label": "robgan"})
    assert m["config_hash"] == "0123456789abcdef" and m["seed"] == 3
    assert m["method"] == "robgan" and m["label"] == "robgan"
    assert set(m["git"]) == {"commit", "dirty"}
    assert m["packages"]["torch"] is not None
    assert m["device"].startswith("cpu:")
    json.dumps(m)   # JSON-serialisable


def test_compute_fingerprint_of_this_cpu(monkeypatch, tmp_path):
    fp = provenance.compute_fingerprint("cpu")
    assert fp["device_type"] == "cpu" and fp["torch"] == torch.__version__
    assert fp["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert fp["bf16_native"] is provenance.bf16_supported(torch.device("cpu"))
    assert fp["cpu_flags"] is None or set(fp["cpu_flags"]) <= set(provenance.KERNEL_FLAGS)
    assert json.loads(json.dumps(fp)) == fp  # stored in records and manifests as JSON


def test_cpu_flags_keep_only_the_kernel_choosing_ones_in_a_fixed_order(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 avx2 fma avx512f amx_tile\n")
    real_path = provenance.Path
    monkeypatch.setattr(provenance, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    assert provenance._cpu_flags() == ["avx2", "avx512f", "avx512_bf16", "amx_tile"]
    monkeypatch.setattr(provenance, "Path", lambda p: tmp_path / "absent")
    assert provenance._cpu_flags() is None
