"""The live view of a run: a local page that follows a run archive as it grows (``diffbench run --live``,
``diffbench watch``); ``docs/live-view.md``."""
