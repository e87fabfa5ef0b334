"""Records → tables, figures and claim verdicts (``robgan report``).

- the record format lives below evaluation and report, in :mod:`robgan.records`.
- :mod:`robgan.report.aggregate`: records → tidy pandas frames and per-seed estimates.
- :mod:`robgan.report.stats`: standard errors of differences, Student-t, Holm, seeds needed.
- :mod:`robgan.report.methods`: what each label was trained with (discriminator, sampling, budget).
- :mod:`robgan.report.tables`, :mod:`robgan.report.generation_table`: the tables;
  :mod:`robgan.report.table_format`: their CSV / Markdown / LaTeX rendering.
- :mod:`robgan.report.figures`: PNG + PDF figures and sample grids.
- :mod:`robgan.report.claims`: verdicts on the paper's claims (``claims.md`` / ``claims.json``), from
  :mod:`robgan.report.verdicts` (rules), :mod:`robgan.report.evaluators` (records → comparisons),
  :mod:`robgan.report.checks` (sanity checks) and :mod:`robgan.report.claims_render` (rendering).
- :mod:`robgan.report.cli`: the ``robgan report`` command (:func:`robgan.report.cli.make_report`).

Kept import-light: evaluation code imports :mod:`robgan.records` without pandas or matplotlib.
"""
