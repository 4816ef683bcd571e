"""From measured phasors to results: calibration, the mixed-mode gain solve, result tables, pass/fail verdicts.

- :mod:`~procedures.analysis.calibration`: each scope channel's gain relative to v1's (channel match);
- :mod:`~procedures.analysis.crosstalk`: scope channel-to-channel crosstalk, measured and removed;
- :mod:`~procedures.analysis.gain_solve`: S from two or more excitations, with its covariance;
- :mod:`~procedures.analysis.gain_figures`: the single-ended gains and CMRRs of S, by name (formulas:
  :mod:`models.mixed_mode`);
- :mod:`~procedures.analysis.propagation`: uncertainties of anything computed from S;
- :mod:`~procedures.analysis.frequency_gains`: the gains at one frequency from its calibrated points;
- :mod:`~procedures.analysis.differential_gain`: gain and THD versus drive, the 1 dB compression point;
- :mod:`~procedures.analysis.dc_transfer`: offset, slope and incremental gain of the DC transfer;
- :mod:`~procedures.analysis.results`: the result tables of a run from its point rows;
- :mod:`~procedures.analysis.verdicts`: the board's limits judged against the results.
"""
