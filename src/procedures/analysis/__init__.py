"""From measured phasors to results: calibration, the mixed-mode gain solve, result tables, pass/fail verdicts."""
