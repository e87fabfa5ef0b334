# Evaluation: one record per (kind, label, seed), docs/architecture.md "Records".
#
# Every evaluation reads a finished run (its model.pt) and the experiment's resolved config (eval
# settings may change without touching runs). Which labels each kind applies to:
# robgan.registry.EVALUATIONS. A job reruns when its run's model.pt is newer, or when its kind's
# settings signature (params.settings) changed, e.g. a new eps in eval.pgd.eps reruns eval_pgd only.


rule reference:
    # mnist5k: trains the small domain CNN used as IS/FID feature extractor (classifier.pt);
    # RGB datasets: Inception statistics of the training set. metrics.json is written in both cases.
    input:
        data=data_ready(),
    output:
        metrics=paths.reference_metrics,
    log:
        paths.log("reference"),
    benchmark:
        paths.benchmark("reference")
    params:
        config=RESOLVED_CONFIG,
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        settings=pipeline.eval_signature(config, "reference"),
    priority: pipeline.job_priority("reference")
    threads: threads_of("reference")
    resources:
        **resources_of("reference"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan train-reference --config {params.config} --out {params.out_dir}"
        " > {log} 2>&1"


# pgd (clean + paper + strong protocols over eval.pgd.eps), autoattack, gap (train vs test at
# eval.gap.eps), lipschitz (over every classifier snapshot): same shape, one rule each.
for _kind in pipeline.RUN_EVALUATIONS:

    rule:
        name:
            f"eval_{_kind}"
        input:
            model=paths.run_model("{label}", "{seed}"),
        output:
            record=paths.record(_kind, "{label}", "{seed}"),
        log:
            paths.log(f"eval_{_kind}", "{label}", "{seed}"),
        benchmark:
            paths.benchmark(f"eval_{_kind}", "{label}", "{seed}")
        wildcard_constraints:
            label=pipeline.alternation(pipeline.registry.evaluation_labels(_kind)),
        params:
            kind=_kind,
            config=RESOLVED_CONFIG,
            run_dir=lambda wildcards, input: os.path.dirname(input.model),
            # per label: an eval.autoattack.overrides entry reruns its own classifier's job only
            settings=pipeline.eval_signature_of_label(config, _kind),
        priority: pipeline.job_priority(f"eval_{_kind}")
        threads: threads_of(f"eval_{_kind}")
        resources:
            **resources_of(f"eval_{_kind}"),
        conda:
            SOFTWARE_ENV
        shell:
            "gpu_slot {resources.gpu} robgan eval {params.kind} --run {params.run_dir}"
            " --config {params.config} --out {output.record} > {log} 2>&1"


rule eval_fidelity:
    # IS/FID of the final generator and of every snapshot (convergence curves): rows in the .csv,
    # the record in the .json beside it.
    input:
        model=paths.run_model("{label}", "{seed}"),
        reference=rules.reference.output.metrics,
    output:
        csv=paths.record("fidelity", "{label}", "{seed}", "csv"),
        record=paths.record("fidelity", "{label}", "{seed}"),
    log:
        paths.log("eval_fidelity", "{label}", "{seed}"),
    benchmark:
        paths.benchmark("eval_fidelity", "{label}", "{seed}")
    wildcard_constraints:
        label=pipeline.alternation(pipeline.registry.evaluation_labels("fidelity")),
    params:
        config=RESOLVED_CONFIG,
        run_dir=lambda wildcards, input: os.path.dirname(input.model),
        reference_dir=lambda wildcards, input: os.path.dirname(input.reference),
        settings=pipeline.eval_signature(config, "fidelity"),
    priority: pipeline.job_priority("eval_fidelity")
    threads: threads_of("eval_fidelity")
    resources:
        **resources_of("eval_fidelity"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan eval fidelity --run {params.run_dir}"
        " --reference {params.reference_dir} --config {params.config} --out {output.csv} > {log} 2>&1"
