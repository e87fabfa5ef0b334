# The dataset, fetched/decoded once per experiment before any training job reads it (concurrent
# jobs would otherwise race to download CIFAR-10 or to fill the ImageNet-143 decode cache).
# ImageNet-143 itself is built by the user once (needs ILSVRC2012), see config/imagenet143.yaml.


rule data:
    output:
        summary=paths.data_summary,
    log:
        paths.log("data"),
    benchmark:
        paths.benchmark("data")
    params:
        config=RESOLVED_CONFIG,
        signature=pipeline.data_signature(config),  # incl. data.root: fetch into a new root
    # Downloading needs the internet, which SLURM compute nodes often lack: then this job runs on
    # the machine Snakemake runs on (e.g. the login node) even under the SLURM executor.
    localrule: bool(config["data"]["download"])
    threads: threads_of("data")
    resources:
        **resources_of("data"),
    conda:
        SOFTWARE_ENV
    # `robgan data prepare` once robgan/cli.py registers robgan.data.cli.
    shell:
        "robgan data prepare --config {params.config} --out {output.summary} > {log} 2>&1"
