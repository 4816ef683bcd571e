"""Closed-form circuit models of differential pairs (small- and large-signal). Imports nothing of diffbench."""
