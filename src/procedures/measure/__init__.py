"""Measuring points on a bench: the plan, excitations, acquisition and ranging, sine fits, the instrument snapshot."""
