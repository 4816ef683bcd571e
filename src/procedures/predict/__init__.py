"""What the models predict for a board config: operating point, gains, limits (no measurement)."""
