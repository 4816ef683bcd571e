"""The diffbench command line."""
