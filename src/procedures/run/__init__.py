"""A whole run from start to end: preflight, the session, stop signals and safe outputs."""
