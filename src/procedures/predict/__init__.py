"""What the models predict for a board config: operating point, gains, limits (no measurement).

- :mod:`procedures.predict.mapping`: the board config as model arguments, and the operating point;
- :mod:`procedures.predict.distortion`: harmonics, compression and swing headroom under a differential drive;
- :mod:`procedures.predict.prediction`: everything together for one board
  (:func:`~procedures.predict.prediction.predict`);
- :mod:`procedures.predict.text`, :mod:`procedures.predict.json_report`: its two printed forms
  (docs/predict-json.md), listing the devices and nodes of :mod:`procedures.predict.device_listing`;
- :mod:`procedures.predict.gains`: the small-signal prediction of any board, closed form or ngspice (the report's
  and the verdicts' dispatch);
- :mod:`procedures.predict.si_format`: numbers with SI prefixes, for every text and HTML table.
"""
