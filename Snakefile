# robgan-repro: the whole reproduction of Rob-GAN (Liu & Hsieh, CVPR 2019) as one DAG.
#
#   snakemake --cores all                                    # default: embedded `quick` experiment (CPU)
#   snakemake --profile workflow/profiles/default --configfile config/cifar10.yaml
#   snakemake --profile workflow/profiles/slurm --configfile config/imagenet143.yaml
#   snakemake --configfile config/cifar10.yaml --report results/cifar10/report.html  # needs pygments
#
# Every step is a call of the `robgan` command (robgan/cli.py); rules live in workflow/rules/, and
# what they run, where they write and when they rerun comes from the package (robgan/pipeline.py,
# used through workflow/rules/common.smk).

import os

from snakemake.utils import min_version

# 9.0: the SLURM executor plugin 2.x needs Snakemake 9's executor interface; profiles use v8+ syntax.
min_version("9.0")


# One experiment = exactly one config file. Without --configfile the default (embedded, CPU-sized)
# experiment is loaded. An unconditional `configfile:` directive is NOT used on purpose: Snakemake
# deep-merges it with --configfile, which would leak keys of the quick experiment (e.g.
# eval.autoattack.apgd_iterations) into paper runs. `--config key=value` overrides apply either way.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# The report's front page (workflow/report/workflow.rst); the figure/table captions sit beside it.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


# results/<exp>/dag_run.json: the wall-clock of this invocation (robgan/dag_run.py); the README quotes it.
import robgan.dag_run


onstart:
    check_slurm_settings()
    write_resolved_config()
    robgan.dag_run.start(paths.root)


# workflow.cores raises under a cluster executor (no --cores: SLURM sizes the jobs): cores recorded as null.
onsuccess:
    robgan.dag_run.finish(paths.root, workflow.resource_settings.cores, workflow.basedir)


rule all:
    input:
        pipeline.report_outputs(config),
    default_target: True
