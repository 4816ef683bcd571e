"""The run report: figures and the HTML page."""
