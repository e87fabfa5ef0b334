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
        model=protected(f"{RESULTS}/runs/{{label}}/seed{{seed}}/model.pt"),
    log:
        f"{RESULTS}/logs/train/{{label}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{label}}_seed{{seed}}.tsv"
    wildcard_constraints:
        label=alternation(("sngan", "advtrain", "robgan", "acgan", "acgan_newloss", "robgan_oldloss")),
    params:
        config=RESOLVED_CONFIG,
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        training=lambda wildcards: training_signature(wildcards.label),
    # Trainings first, fine-tunings as soon as their robgan run is done: they are the DAG's long
    # chain (robgan -> robgan_ft -> evaluations -> report), evaluations fill the gaps.
    priority: 50
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
        source=f"{RESULTS}/runs/robgan/seed{{seed}}/model.pt",
    output:
        model=protected(f"{RESULTS}/runs/{{label}}/seed{{seed}}/model.pt"),
    log:
        f"{RESULTS}/logs/finetune/{{label}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/finetune/{{label}}_seed{{seed}}.tsv"
    wildcard_constraints:
        label="robgan_ft|robgan_ft_nofake",
    params:
        config=RESOLVED_CONFIG,
        source_dir=lambda wildcards, input: os.path.dirname(input.source),
        run_dir=lambda wildcards, output: os.path.dirname(output.model),
        lam=lambda wildcards: finetune_lambda(wildcards.label),
        training=lambda wildcards: training_signature(
            "robgan_ft", finetune_lam=finetune_lambda(wildcards.label)
        ),
    priority: 100
    threads: threads_of("finetune")
    resources:
        **resources_of("finetune"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan finetune --config {params.config} --from {params.source_dir}"
        " --seed {wildcards.seed} --out {params.run_dir} --set finetune.lam={params.lam} > {log} 2>&1"
