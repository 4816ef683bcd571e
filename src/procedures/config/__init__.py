"""Procedure configs: what a run measures, read from TOML or built in code."""
