"""Scientific acceptance thresholds: the floors a trained model must clear before a comparison with it
says anything, with their reasons. Pure functions of record values → ``(status, detail)``; CI's gate
(``.ci/check_outputs.py``) and the report's Checks table (:mod:`robgan.report.checks`) both call them.

Unlike the sanity flags (:mod:`robgan.evaluation.flags`, properties of a sound *measurement*), these
are properties of a usable *model*:

- :data:`MIN_CLASS_ACCURACY` — a conditional generator whose samples do not show their class (judged by
  mnist5k's reference CNN; chance 0.10) is broken: 0.9 for the AC-GAN family, whose class head trains
  G to be class-true, 0.6 for the SN-GAN baseline (projection discriminator, no class loss on G): the
  bars of the "Trustworthy comparisons" issue, so that a training regression that leaves the sample
  grids unrecognisable fails CI.
- :data:`MIN_CLEAN_ACCURACY` — a classifier below 0.5 clean test accuracy (chance 0.10) did not learn:
  every comparison with a dead baseline is empty.
- :data:`MIN_INTRA_RECALL` — the within-class collapse floor. A generator that draws one image per
  class (it ignores its noise) can have a high IS and a perfect class accuracy; its intra-class recall
  (:func:`robgan.evaluation.gen_metrics.intra_class_precision_recall`: the share of a class's real
  images that one of the class's first 50 samples covers, k = 3, mean over classes) is 0. Calibrated on
  the embedded data (docs/generator_metrics.md; ``benchmarks/collapse/calibrate.py`` recomputes it,
  ``benchmarks/collapse/summary.md`` holds its numbers): held-out real mnist5k test digits, 50 per
  class, score 0.88–0.90 against the training split (the upper reference); trained generators with
  their noise ignored score 0.000, and the committed mnist5k config's Rob-GAN seed 0, whose sample
  grid repeats one digit per row, 0.005 (the collapsed regime). The floor 0.1 is the geometric middle
  of the two regimes (√(0.01 × 0.89) ≈ 0.09): 20× what the collapsed generator scores, a ninth of real
  digits. (A first choice, 0.2, made before quick's generator was measured, would have failed quick's
  Rob-GAN seed 0 at 0.196, whose grid varies within classes: 0.2 sat inside the range of working
  embedded generators, not between the regimes.)
- :data:`MIN_CLASS_INTRA_RECALL` — the same check class by class, so that a mean over ten classes cannot
  hide one collapsed class (quick's first Rob-GAN run: mean 0.228, class 5 at 0.005 — one digit drawn
  50 times). Held-out real digits' lowest class scores 0.73–0.86 (``benchmarks/collapse/summary.json``,
  ``intra_recall_min_class``); one covered digit of a class's ~400 is 0.0025. The floor 0.04 is the
  geometric middle (√(0.0025 × 0.73) ≈ 0.043): a class whose 50 samples cover under 4 % of its real
  digits has collapsed.

A generator trained with a weight average (``train.g_ema``) is judged on the average (its record's
``results``: the generator every evaluation and figure uses). The trained weights beside it (the
record's ``results_raw``) are measured against the same floors by :func:`trained_weights_note`, as
information that no gate reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIN_CLASS_ACCURACY = 0.9
MIN_CLASS_ACCURACY_OF = {"sngan": 0.6}
MIN_CLEAN_ACCURACY = 0.5
MIN_INTRA_RECALL = 0.1
MIN_CLASS_INTRA_RECALL = 0.04

OK, FAILED, NOT_MEASURED = "ok", "failed", "not measured"
#: Detail of a record written before intra-class recall was measured: the gate does not fail it.
PREDATES = "not measured (records predate the check)"


def class_accuracy_bar(method: str) -> float:
    """The final class-accuracy floor of a generator trained by ``method``."""
    return MIN_CLASS_ACCURACY_OF.get(method, MIN_CLASS_ACCURACY)


def class_accuracy_check(method: str, accuracy: float | None) -> tuple[str, str]:
    """``(ok | failed | not measured, detail)`` of a generator's final class accuracy."""
    if accuracy is None:
        return NOT_MEASURED, "no class judge for this dataset"
    bar = class_accuracy_bar(method)
    if accuracy < bar:
        return FAILED, f"final class accuracy {accuracy:.3f} < {bar} (the generator's samples do not show their class)"
    return OK, f"final class accuracy {accuracy:.3f} ≥ {bar}"


def clean_accuracy_check(accuracy: float) -> tuple[str, str]:
    """``(ok | failed, detail)`` of a classifier's clean test accuracy."""
    if accuracy < MIN_CLEAN_ACCURACY:
        return FAILED, f"clean test accuracy {accuracy:.3f} < {MIN_CLEAN_ACCURACY} (the classifier did not learn)"
    return OK, f"clean test accuracy {accuracy:.3f} ≥ {MIN_CLEAN_ACCURACY}"


def collapse_check(final_row: Mapping[str, Any]) -> tuple[str, str]:
    """``(ok | failed | not measured, detail)``: the final generator's intra-class recall vs
    :data:`MIN_INTRA_RECALL`. A row without ``intra_recall`` (a record written before it was measured)
    is "not measured", never a failure."""
    recall = final_row.get("intra_recall")
    if recall is None:
        return NOT_MEASURED, PREDATES
    per_class = final_row.get("intra_recall_per_class") or []
    worst = f"; lowest class {min(per_class):.3f} (class {per_class.index(min(per_class))})" if per_class else ""
    if recall < MIN_INTRA_RECALL:
        return FAILED, (f"intra-class recall {recall:.3f} < {MIN_INTRA_RECALL} at iteration "
                        f"{final_row.get('iteration')}{worst}: collapsed within classes (few distinct images each)")
    collapsed = [c for c, r in enumerate(per_class) if r < MIN_CLASS_INTRA_RECALL]
    if collapsed:
        listed = ", ".join(f"class {c} {per_class[c]:.3f}" for c in collapsed)
        return FAILED, (f"intra-class recall {recall:.3f} ≥ {MIN_INTRA_RECALL} on average, but {listed} < "
                        f"{MIN_CLASS_INTRA_RECALL} at iteration {final_row.get('iteration')}: collapsed within "
                        f"{'that class' if len(collapsed) == 1 else 'those classes'}")
    return OK, f"intra-class recall {recall:.3f} ≥ {MIN_INTRA_RECALL}, every class ≥ {MIN_CLASS_INTRA_RECALL}{worst}"


def trained_weights_note(method: str, raw_row: Mapping[str, Any] | None) -> str:
    """What the class-accuracy floor and the collapse check say of a weight-averaged generator's trained
    weights (its fidelity record's ``results_raw`` row; None: not measured), with the per-class
    intra-class recall: information beside the gates, which judge the average."""
    if raw_row is None:
        return "trained weights not measured (the record predates their measurement)"
    status, detail = collapse_check(raw_row)
    parts = [f"within-class collapse check {status}: {detail}"]
    per_class = raw_row.get("intra_recall_per_class") or []
    if per_class:
        parts.append("intra-class recall per class " + " ".join(f"{c}:{r:.3f}" for c, r in enumerate(per_class)))
    status, detail = class_accuracy_check(method, raw_row.get("class_accuracy"))
    parts.append(f"class accuracy {status}: {detail}")
    return "trained weights (information, not gated: the gates judge the average): " + "; ".join(parts)
