#!/bin/bash
# The layering comparison of issue #23, as it was run (2026-12-07): the same small but complete DAG
# (every rule; quick's config with its iterations cut by overrides.yaml) from the code of the commit
# before the layering change (6f68772^ = 95ba3bd) and of the change itself (6f68772), one after the
# other, then `robgan compare` of the two results (from the code of the branch that adds this folder).
# Run from the repository root with the project's environment active (robgan, snakemake installed).
set -euo pipefail
repo=$(pwd)
here=$repo/benchmarks/layering_compare
git worktree add --detach /tmp/wt-before 6f68772^
git worktree add --detach /tmp/wt-after 6f68772
for wt in /tmp/wt-before /tmp/wt-after; do   # never both at once: 2 cores
  (cd "$wt" && PYTHONPATH="$wt" snakemake --cores 2 --configfile config/config.yaml "$here/overrides.yaml" \
     --config experiment=layering_cmp)
done
robgan compare /tmp/wt-before/results/layering_cmp /tmp/wt-after/results/layering_cmp | tee "$here/compare.txt"
git worktree remove --force /tmp/wt-before
git worktree remove --force /tmp/wt-after
