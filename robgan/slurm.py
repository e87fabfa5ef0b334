"""The SLURM settings of a run, checked before Snakemake submits its first job.

The SLURM profile (``workflow/profiles/slurm/config.yaml``) ships with placeholders for the site's
account and partitions (``CHANGE_ME``, ``CHANGE_ME_CPU``, ``CHANGE_ME_GPU``). Left as they are, or
naming a partition the cluster does not have, they would surface only as a failed ``sbatch`` per job
(and ``retries`` resubmissions of each). The Snakefile's ``onstart`` handler calls
:func:`settings_error` when the executor is ``slurm`` (it is not known earlier: not in a dry-run)
and stops with its one line, which names each setting to edit as the profile spells it
(``default-resources: slurm_account`` or ``set-resources: train: slurm_partition``).

Torch-free: it runs inside Snakemake.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping

__all__ = ["PLACEHOLDER", "SETTINGS", "cluster_partitions", "settings_error"]

PLACEHOLDER = "CHANGE_ME"
SETTINGS = ("slurm_account", "slurm_partition")


def cluster_partitions(sinfo: str = "sinfo") -> set[str] | None:
    """The partition names that ``sinfo`` lists (the default one without its ``*``); None when
    ``sinfo`` is missing or fails (then partitions are not checked here: ``sbatch`` will say)."""
    try:
        out = subprocess.run([sinfo, "--noheader", "--format=%P"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {name.rstrip("*") for name in out.split()}


def settings_error(jobs: Iterable[tuple[str, Mapping[str, object]]], set_resources: Mapping[str, Iterable[str]],
                   partitions: set[str] | None) -> str | None:
    """One line naming every SLURM setting to edit, or None when there is none.

    Args:
        jobs: ``(rule, resources)`` of each job to be submitted (its evaluated resources).
        set_resources: rule -> the resource names that ``set-resources`` gives that rule (the others
            come from ``default-resources``, or from the rule itself).
        partitions: the cluster's partitions (:func:`cluster_partitions`); None: not checked.

    A setting is to edit when its value still contains :data:`PLACEHOLDER`, or when it is a
    ``slurm_partition`` that is not in ``partitions``. Each setting is named once (with the rules that
    set it, for set-resources).
    """
    problems: dict[tuple[str, str, str, str], list[str]] = {}  # (section, key, value, why) -> rules
    for rule, resources in jobs:
        for key in SETTINGS:
            value = resources.get(key)
            if value is None or value == "":
                continue
            value = str(value)
            if PLACEHOLDER in value:
                why = "the profile's placeholder"
            elif key == "slurm_partition" and partitions is not None and value not in partitions:
                why = "not a partition of this cluster"
            else:
                continue
            section = "set-resources" if key in set(set_resources.get(rule, ())) else "default-resources"
            rules = problems.setdefault((section, key, value, why), [])
            if rule not in rules:
                rules.append(rule)
    if not problems:
        return None
    named = []
    for (section, key, value, why), rules in problems.items():
        scope = f"{', '.join(sorted(rules))}: " if section == "set-resources" else ""
        named.append(f"{section}: {scope}{key} = {value!r} ({why})")
    known = f"; the cluster's partitions: {', '.join(sorted(partitions))}" if partitions else ""
    return f"SLURM settings to edit in your --profile (or on the command line): {'; '.join(named)}{known}"
