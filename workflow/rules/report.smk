# Tables, figures and claim verdicts, rendered by `robgan report` from the records, the runs (sample
# grids) and the paper's claims (config/paper_claims.yaml: editing it reruns the report only). Flagged outputs appear in `snakemake --report`
# (results/<experiment>/report.html; needs pygments, a dependency of the package): table CSVs,
# figure PNGs and claims.md, each with its caption from workflow/report/.


rule report:
    input:
        records=all_records(),
        models=all_run_models(),
        claims=PAPER_CLAIMS,
    output:
        tables=table_outputs(flag=True),
        figures=figure_outputs(flag=True),
        claims_md=report(
            f"{RESULTS}/claims.md", caption="../report/claims.rst", category="Claims",
            labels={"file": "claims.md"},
        ),
        claims_json=f"{RESULTS}/claims.json",
    log:
        log_path("report"),
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    params:
        config=RESOLVED_CONFIG,
        records_dir=lambda wildcards: f"{RESULTS}/records",
        runs_dir=lambda wildcards: f"{RESULTS}/runs",
        out_dir=lambda wildcards, output: os.path.dirname(output.claims_md),
        settings=report_signature(),
    threads: threads_of("report")
    resources:
        **resources_of("report"),
    conda:
        SOFTWARE_ENV
    shell:
        "gpu_slot {resources.gpu} robgan report --config {params.config} --records {params.records_dir}"
        " --runs {params.runs_dir} --claims {input.claims} --out {params.out_dir} > {log} 2>&1"
