# Evaluation: one record per (kind, label, seed), docs/architecture.md "Records".
#
# Every evaluation reads a finished run (its model.pt) and the experiment's resolved config (eval
# settings may change without touching runs). Which labels each kind applies to: EVAL_ORDER in
# common.smk. A job reruns when its run's model.pt is newer, or when its kind's settings
# signature (params.settings) changed, e.g. a new eps in eval.pgd.eps reruns eval_pgd only.


rule reference:
    # mnist5k: trains the small domain CNN used as IS/FID feature extractor (classifier.pt);
    # RGB datasets: Inception statistics of the training set. metrics.json is written in both cases.
    input:
        data=data_ready(),
    output:
        metrics=f"{RESULTS}/reference/metrics.json",
    log:
        log_path("reference"),
    benchmark:
        f"{RESULTS}/benchmarks/reference.tsv"
    params:
        config=RESOLVED_CONFIG,
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        settings=eval_signature("reference"),
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
for _kind in ("pgd", "autoattack", "gap", "lipschitz"):

    rule:
        name:
            f"eval_{_kind}"
        input:
            model=f"{RESULTS}/runs/{{label}}/seed{{seed}}/model.pt",
        output:
            record=f"{RESULTS}/records/{_kind}/{{label}}_seed{{seed}}.json",
        log:
            f"{RESULTS}/logs/eval_{_kind}/{{label}}_seed{{seed}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/eval_{_kind}/{{label}}_seed{{seed}}.tsv"
        wildcard_constraints:
            label=alternation(EVAL_ORDER[_kind]),
        params:
            kind=_kind,
            config=RESOLVED_CONFIG,
            run_dir=lambda wildcards, input: os.path.dirname(input.model),
            settings=eval_signature(_kind),
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
        model=f"{RESULTS}/runs/{{label}}/seed{{seed}}/model.pt",
        reference=rules.reference.output.metrics,
    output:
        csv=f"{RESULTS}/records/fidelity/{{label}}_seed{{seed}}.csv",
        record=f"{RESULTS}/records/fidelity/{{label}}_seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/eval_fidelity/{{label}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/eval_fidelity/{{label}}_seed{{seed}}.tsv"
    wildcard_constraints:
        label=alternation(EVAL_ORDER["fidelity"]),
    params:
        config=RESOLVED_CONFIG,
        run_dir=lambda wildcards, input: os.path.dirname(input.model),
        reference_dir=lambda wildcards, input: os.path.dirname(input.reference),
        settings=eval_signature("fidelity"),
    threads: threads_of("eval_fidelity")
    resources:
        **resources_of("eval_fidelity"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan eval fidelity --run {params.run_dir}"
        " --reference {params.reference_dir} --config {params.config} --out {output.csv} > {log} 2>&1"
