# Tables, figures and claim verdicts, rendered by `robgan report` from the records, the runs (sample
# grids), the cost probe (each method's seconds per iteration, for the time claims) and the paper's
# claims (config/paper_claims.yaml: editing it reruns the report only).
# Flagged outputs appear in `snakemake --report` (results/<experiment>/report.html; needs pygments, a
# dependency of the package): table CSVs, figure PNGs and claims.md, each with its caption from
# workflow/report/.


rule report:
    input:
        records=pipeline.record_paths(config),
        models=pipeline.run_models(config),
        claims=PAPER_CLAIMS,
        cost_probe=paths.cost_probe,
    output:
        tables=shown(pipeline.table_outputs(config)),
        figures=shown(pipeline.figure_outputs(config)),
        claims_md=report(
            paths.claims("md"), caption="../report/claims.rst", category="Claims",
            labels={"file": "claims.md"},
        ),
        claims_json=paths.claims("json"),
    log:
        paths.log("report"),
    benchmark:
        paths.benchmark("report")
    params:
        config=RESOLVED_CONFIG,
        records_dir=lambda wildcards: paths.records,
        runs_dir=lambda wildcards: paths.runs,
        out_dir=lambda wildcards, output: os.path.dirname(output.claims_md),
        settings=pipeline.report_signature(config),
    threads: threads_of("report")
    resources:
        **resources_of("report"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan report --config {params.config} --records {params.records_dir}"
        " --runs {params.runs_dir} --claims {input.claims} --cost-probe {input.cost_probe} --out {params.out_dir}"
        " > {log} 2>&1"
