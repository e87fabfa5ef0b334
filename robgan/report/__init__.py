"""Records → tables, figures and claim verdicts (``robgan report``).

- :mod:`robgan.report.records`: the record format (schema, read/validate/write).
- :mod:`robgan.report.aggregate`: records → tidy pandas frames; seed statistics.
- :mod:`robgan.report.tables`: CSV / Markdown / LaTeX tables.
- :mod:`robgan.report.figures`: PNG + PDF figures and sample grids.
- :mod:`robgan.report.claims`: verdicts on the paper's claims (``claims.md`` / ``claims.json``).
- :mod:`robgan.report.cli`: the ``robgan report`` command (:func:`robgan.report.cli.make_report`).

Kept import-light: evaluation code imports :mod:`robgan.report.records` without pandas or matplotlib.
"""
