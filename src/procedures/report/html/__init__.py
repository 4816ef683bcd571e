"""The one-page HTML summary of a run report: plain HTML and a little CSS, no JavaScript, no network.

:mod:`~procedures.report.html.page` puts the page together from the sections of
:mod:`~procedures.report.html.run_sections` (run, instruments, board, verdicts),
:mod:`~procedures.report.html.result_tables` (measured results against the models) and
:mod:`~procedures.report.html.fit_tables` (fitted parameters), with the number formats of
:mod:`~procedures.report.html.formatting`.
"""
