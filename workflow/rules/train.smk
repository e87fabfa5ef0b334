# Training: one resumable run directory per (label, seed), docs/architecture.md "Run directory".
#
# Only model.pt (written last, atomically: the completion marker) is a declared output. When a job
# fails, Snakemake deletes the declared outputs of that job only; the rest of the run directory
# (checkpoint.pt, snapshots/, train_log.csv, manifest.json) is not Snakemake's and survives. That
# is what makes pre-emption safe: SLURM sends SIGTERM, robgan writes checkpoint.pt and exits 143,
# the job counts as failed, and the next attempt (the profile's `retries`, or the next snakemake
# call) runs the same command, which resumes from checkpoint.pt (robgan refuses to resume a run
# directory whose training_hash differs from the config's).
#
# model.pt is protected(): Snakemake makes it read-only after the job and, instead of deleting it
# to rerun a finished training (e.g. after a training-section edit changed the job's
# `params.training` signature), stops with a ProtectedOutputException (not when run as root: root
# may write read-only files). To retrain on purpose, move the run directory away.


rule train:
    input:
        data=data_ready(),
    output:
        model=protected(paths.run_model("{label}", "{seed}")),
    log:
        paths.log("train", "{label}", "{seed}"),
    benchmark:
        paths.benchmark("train", "{label}", "{seed}")
    wildcard_constraints:
        label=pipeline.alternation(pipeline.trained_labels()),
    params:
        config=RESOLVED_CONFIG,
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        training=lambda wildcards: pipeline.training_signature(config, wildcards.label),
    # Longest jobs first, robgan's training first of all (robgan.pipeline.PRIORITIES says why).
    priority: lambda wildcards: pipeline.job_priority("train", wildcards.label)
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan train --config {params.config} --method {wildcards.label}"
        " --seed {wildcards.seed} --out {params.run_dir} > {log} 2>&1"


rule finetune:
    input:
        data=data_ready(),
        source=paths.run_model(pipeline.FINETUNE_FROM, "{seed}"),
    output:
        model=protected(paths.run_model("{label}", "{seed}")),
    log:
        paths.log("finetune", "{label}", "{seed}"),
    benchmark:
        paths.benchmark("finetune", "{label}", "{seed}")
    wildcard_constraints:
        label=pipeline.alternation(pipeline.finetuned_labels()),
    params:
        config=RESOLVED_CONFIG,
        source_dir=lambda wildcards, input: os.path.dirname(input.source),
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        lam=lambda wildcards: pipeline.finetune_lambda(config, wildcards.label),
        training=lambda wildcards: pipeline.training_signature(
            config, "robgan_ft", finetune_lam=pipeline.finetune_lambda(config, wildcards.label)
        ),
    priority: pipeline.job_priority("finetune")
    threads: threads_of("finetune")
    resources:
        **resources_of("finetune"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan finetune --config {params.config} --from {params.source_dir}"
        " --seed {wildcards.seed} --out {params.run_dir} --set finetune.lam={params.lam} > {log} 2>&1"


# Each run label's seconds per training iteration, measured alone (robgan/cost_probe.py): the cost
# the wall-clock time claims are judged on (training logs' seconds depend on the jobs that shared
# the cores). It reserves every core of the invocation (every_core(): --cores; under SLURM its own
# allocation), so Snakemake runs nothing beside it, and it runs first after the data (highest
# priority); robgan times the steps on the training jobs' threads. A few seconds on quick. Its input is
# the data job's summary, which a fresh clone does not have: the committed cost_probe.json (another
# machine's seconds) is then re-measured on this one, never reused.
rule cost_probe:
    input:
        rules.data.output.summary,
    output:
        paths.cost_probe,
    log:
        paths.log("cost_probe"),
    benchmark:
        paths.benchmark("cost_probe")
    params:
        config=RESOLVED_CONFIG,
        train_threads=threads_of("train"),
        signature=pipeline.cost_probe_signature(config),
    priority: pipeline.job_priority("cost_probe")
    threads: every_core()
    resources:
        **resources_of("cost_probe"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan cost-probe --config {params.config} --threads {params.train_threads}"
        " --out {output} > {log} 2>&1"
