"""Shared fixtures: tiny overrides of the default config so training runs take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "config" / "config.yaml"

# A model and budget small enough for unit tests on 2 CPU cores.
TINY = [
    "model.ngf=8", "model.ndf=8", "model.z_dim=16",
    "train.iterations=20", "train.batch_size=16",
    "advtrain.iterations=20", "advtrain.batch_size=16",
    "advtrain.allow_smaller_budget=true",  # fewer advtrain updates than robgan + fine-tuning: tests only
    "finetune.iterations=20", "finetune.batch_size=16", "finetune.schedule.milestones=[10]",
    "log_every=5", "checkpoint_every=10", "snapshot_every=10",
    "threads=1",
    # float32 whatever the CPU: tests' numbers must not depend on whether it has bf16 (the bf16 path is
    # tested on its own in tests/test_performance.py)
    "performance.bf16=false",
    "performance.bf16_attacks=false",
]


@pytest.fixture(scope="session")
def tiny_overrides() -> list[str]:
    return list(TINY)


@pytest.fixture(scope="session")
def default_config() -> Path:
    return DEFAULT_CONFIG
