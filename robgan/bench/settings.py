"""What a bench result holds and how long it measures: the schema version, the targets, the definitions
of its fields (stored in every result and printed in its Markdown), and :class:`BenchSettings`."""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1
#: Targets printed with the results (issue "Performance: a benchmark harness ...").
TARGETS = {"step_over_parts_max": 1.15, "pgd_efficiency_min": 0.9}

DEFINITIONS = {
    "seconds_per_iter": "wall seconds of one iteration: the median (and quartiles) over repeats of "
                        "(time of iters_per_repeat consecutive iterations) / iters_per_repeat, after "
                        "warm-up; CUDA is synchronised before and after each repeat only",
    "iteration": "one call of the method's training step (GAN methods: n_dis D updates + 1 G update, as "
                 "one generator iteration of robgan train), or for 'pgd' one paper-protocol PGD attack "
                 "(class CE, eval.pgd.paper steps, no restarts) on one eval batch",
    "images_per_iter": "REAL training images consumed per iteration: n_dis x batch_size for GAN methods, "
                       "batch_size for advtrain and robgan_ft (whose lam * generated images are counted "
                       "apart in fake_images_per_iter), the eval batch size for pgd",
    "images_per_s": "images_per_iter / median seconds_per_iter",
    "iterations_per_s": "1 / median seconds_per_iter",
    "memory": "CUDA: torch.cuda.max_memory_allocated over warm-up + timed repeats (absolute: models, "
              "optimiser state, device-resident dataset, activations); CPU: peak RSS of the process over "
              "the same region (VmHWM reset through /proc/self/clear_refs), delta = peak - RSS before "
              "warm-up (what the steps add on top of the built models and data)",
    "flops_per_iter": "FLOPs of one iteration counted once, outside the timed loop, with "
                      "torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions, forward and "
                      "backward; elementwise ops excluded)",
    "achieved": "flops_per_iter / median seconds_per_iter (GFLOP/s; TFLOP/s and the fraction of the "
                "device's dense peak for peak_dtype on CUDA)",
    "host_syncs_per_iter": "operations of one iteration (the loop's apply_schedule + the step, data "
                           "included; for pgd one attack) that make the host wait for a GPU (scalar "
                           "reads such as .item() / bool(t), data-dependent shapes such as nonzero or "
                           "boolean-mask indexing, .cpu() / .numpy() / .tolist()), counted by "
                           "robgan.bench.syncs on any device (on the CPU a proxy: what the same code "
                           "would wait for on a GPU); torch.optim's host-side step counter excluded; "
                           "0 = the inner loop never waits",
    "breakdown": "Rob-GAN step parts timed in isolation (interleaved repeats) on the same context, each for a whole "
                 "generator iteration (n_dis calls of the per-D-update parts): data = stream.next(); "
                 "pgd = the co-training attack on a real batch; fakes_for_d = the no-grad generation "
                 "of the fakes D sees; d_update = D's forward/backward/Adam step given x_adv and fakes; "
                 "g_update = fake generation + D forward + backward + G's Adam step; other = step - all "
                 "parts. ratio = median over repeats of step / (pgd + d_update + g_update) of the "
                 "same interleaved round (ratio_of_medians: the same from the medians)",
    "calibration": "the fixed one-thread workload of robgan.calibration (its seconds on this machine, "
                   "minimum of its repeats), run before the measurements; x cal = a time as a multiple of "
                   "it, which compares across machines where seconds do not",
    "baseline": "with --baseline: every throughput measurement is taken twice in the same process, "
                "under the baseline performance settings and under the benchmarked ones, one after the "
                "other; speedup = baseline median seconds / benchmarked median seconds",
    "pgd_efficiency": "bare / pgd: seconds of a bare loop of the same number of forward + input-"
                      "gradient backward passes of the same objective, model, mode and batch, divided "
                      "by the seconds of the PGD call, both timed in interleaved repeats; the median "
                      "over repeats of the per-round ratio (efficiency_of_medians: the ratio of the "
                      "medians); 1.0 = PGD adds nothing to its passes",
}


@dataclass(frozen=True)
class BenchSettings:
    """How long and how often to measure.

    Attributes:
        repeats: timed repeats (median and IQR are taken over them).
        warmup: untimed calls before the first repeat (torch.compile compiles here).
        iters: calls per repeat; None calibrates it to about ``target_repeat_s`` per repeat.
        target_repeat_s: the calibration's target.
        pgd_batch: batch of the PGD benchmark; None = the config's ``eval.batch_size``.
        breakdown: time the Rob-GAN step's parts and the PGD efficiency (when robgan is benchmarked).
        seed: run seed of the contexts (model initialisation, data order).
        calibration: run the fixed calibration workload (:mod:`robgan.calibration`) first and store it.
    """

    repeats: int = 5
    warmup: int = 2
    iters: int | None = None
    target_repeat_s: float = 0.25
    pgd_batch: int | None = None
    breakdown: bool = True
    seed: int = 0
    calibration: bool = True

    @classmethod
    def quick(cls, **kw) -> BenchSettings:
        """Smoke-test settings: 1 warm-up, 2 repeats of 1 call, PGD on at most 64 images."""
        base = {"repeats": 2, "warmup": 1, "iters": 1, "pgd_batch": 64}
        base.update({k: v for k, v in kw.items() if v is not None})
        return cls(**base)

