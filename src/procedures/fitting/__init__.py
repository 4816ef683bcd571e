"""Model fits of a run's results, stored in and loaded from its archive."""
