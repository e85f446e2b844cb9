"""Observational comparative-effectiveness studies on the site's own records.

``engine``: the statistics (propensity scores, weighting / matching / stratification, balance,
Kaplan–Meier and Cox models, negative-control calibration, the diagnostics gate) and the HTML
report, independent of how the cohort was extracted. Import the submodules directly: importing
this package loads nothing heavy.
"""
