"""diffbench procedures: excitation, acquisition, phasors, gain solves, sweeps, fits, archive, reports, CLI."""
