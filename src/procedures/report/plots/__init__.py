"""Drawing the report's figures with matplotlib: Bode plots, gain and THD versus drive, the DC transfer.

The functions take plain numbers (:mod:`procedures.report.plots.data`, which does not import matplotlib)
and return a :class:`matplotlib.figure.Figure` on the Agg canvas. They compute nothing a reader would call a
result: the data arrive prepared (:mod:`procedures.report.figure_data`). This package's modules other than
``data`` import matplotlib; import them only where a figure is drawn, so ``import procedures`` stays light.
"""
