"""The live page: a standalone Bokeh document (its JavaScript inline, so no network is needed) that polls the
view's JSON and redraws.

One ``AjaxDataSource`` (named ``add``) fetches :data:`VIEW_PATH` every :data:`POLL_MS` ms; its adapter hands
each part of the reply to the other sources (``acm``, ``wave``) and to the status line, so the Bode plots and
the waveforms always show one reading of the archive. Bokeh is imported here only, when a live view is asked
for. What the JSON holds: :func:`procedures.live.archive_view.read_view`.
"""

from __future__ import annotations

from typing import Any

from procedures.live.archive_view import empty_wave
from procedures.measure.acquisition import NODES

VIEW_PATH = "/view.json"
POLL_MS = 500
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")

# The adapter: the reply's parts to their sources, the status line and the waveform axis; returns the Add data
# for the polling source itself. Bokeh's CustomJS passes the parsed reply as cb_data.response.
_ADAPTER = """
const v = cb_data.response;
acm.data = v.acm;
wave.data = v.wave;
record.text = v.wave_label ? "<b>latest record</b>: " + v.wave_label : "no record yet";
time_axis.axis_label = "time (" + v.time_unit + ")";
const src = {gains: "solved mixed-mode gains",
             points: v.final ? "per-point estimate (uncalibrated; the archive has no solved gains)"
                             : "per-point estimate (uncalibrated), solved at the end of the run",
             "": "no frequency-sweep point yet"}[v.source];
let text = "<b>" + v.status + "</b>" + (v.reason ? ": " + v.reason : "") + " &mdash; " + v.points
         + " points, " + v.records + " records committed &mdash; Bode: " + src;
if (v.final) { text += " &mdash; run ended, no longer following"; }
status.text = text;
status.tags = [v.status, v.points, v.records];
return v.add;
"""


def _figures(title: str) -> Any:
    from bokeh.layouts import column, row
    from bokeh.models import AjaxDataSource, ColumnDataSource, CustomJS
    from bokeh.models.widgets.markups import Div
    from bokeh.plotting import figure

    add = AjaxDataSource(name="add", data_url=VIEW_PATH, polling_interval=POLL_MS, mode="replace", method="GET",
                         data={"frequency_hz": [], "mag_db": [], "phase_deg": []})
    acm = ColumnDataSource(name="acm", data={"frequency_hz": [], "mag_db": []})
    wave = ColumnDataSource(name="wave", data=empty_wave())
    status = Div(name="status", text="waiting for the first reading", tags=["", 0, 0])
    tools = "pan,wheel_zoom,box_zoom,reset,save,hover"
    mag = figure(title="gain magnitude", x_axis_type="log", x_axis_label="frequency (Hz)",
                 y_axis_label="gain (dB)", width=620, height=300, tools=tools)
    for src, label, colour in ((add, "|Add|", "#1f77b4"), (acm, "|Acm| (Acc)", "#d62728")):
        mag.line("frequency_hz", "mag_db", source=src, color=colour, legend_label=label)
        mag.scatter("frequency_hz", "mag_db", source=src, color=colour, legend_label=label, size=6)
    mag.legend.location = "center_left"  # between |Add| (well above 0 dB) and |Acm| (well below)
    mag.legend.click_policy = "hide"
    phase = figure(title="phase of Add", x_axis_type="log", x_range=mag.x_range, x_axis_label="frequency (Hz)",
                   y_axis_label="phase (degrees)", width=620, height=260, tools=tools)
    phase.line("frequency_hz", "phase_deg", source=add, color="#1f77b4")
    phase.scatter("frequency_hz", "phase_deg", source=add, color="#1f77b4", size=6)
    record = Div(name="record", text="no record yet", width=620)
    scope = figure(title="waveforms", x_axis_label="time (s)", y_axis_label="volts (V)", width=620,
                   height=520, tools=tools)
    for node, colour in zip(NODES, COLOURS):
        scope.line("t", node, source=wave, color=colour, legend_label=node)
    scope.legend.location = "top_right"
    scope.legend.click_policy = "hide"  # a click on a node's name hides its trace
    scope.xaxis[0].name = "time_axis"
    add.adapter = CustomJS(args={"acm": acm, "wave": wave, "status": status, "record": record,
                                   "time_axis": scope.xaxis[0]}, code=_ADAPTER)
    header = Div(text=f"<h2>diffbench live view</h2><p>{_escape(title)}</p>")
    return column(header, status, row(column(mag, phase), column(record, scope)))


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def page_html(title: str) -> bytes:
    """The whole page for the archive named ``title``, Bokeh's JavaScript and CSS inline (UTF-8 HTML)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(_figures(title), resources=INLINE, title=f"diffbench live: {title}").encode("utf-8")
