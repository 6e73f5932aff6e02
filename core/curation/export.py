"""Exports of a curated run: the labels CSV with names and the edit version, and a self-contained HTML map (plotly's
JavaScript inline, no CDN) with the cluster names on the map, the rows on hover, and a search box."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from core.curation.edits import NOISE
from core.curation.session import Curation
from core.export import defused_csv

WEBGL_FROM = 5000  # above this many points the map draws with WebGL, which stays fluid


def named_labels_frame(curation: Curation) -> pd.DataFrame:
    """The run's data with, first, its row number, current cluster and name, original cluster and edit version."""
    state = curation.current()
    names = state.names()
    frame = curation.artifacts.data.frame.reset_index(drop=True)
    out = pd.DataFrame({"row": np.arange(len(frame)), "cluster": state.labels,
                        "name": [names.get(int(c), "") for c in state.labels],
                        "original_cluster": curation.original(), "version": state.version})
    return pd.concat([out, frame.rename(columns=lambda c: f"input_{c}" if c in out.columns else c)], axis=1)


def named_labels_csv(curation: Curation) -> bytes:
    """`named_labels_frame` as CSV bytes, every text cell defused against spreadsheet formulas."""
    return defused_csv(named_labels_frame(curation))


def html_map(curation: Curation, title: str | None = None) -> str:
    """A single HTML file with the 2-D map: one colour per cluster, its name at its centre, the row on hover, and a
    search box that dims the rows (and clusters) that do not match. It needs no network to open."""
    import plotly.graph_objects as go

    state = curation.current()
    xy = curation.artifacts.projection
    hover = curation.artifacts.hover_texts()
    scatter = go.Scattergl if len(xy) > WEBGL_FROM else go.Scatter
    figure = go.Figure()
    for cluster in state.clusters:
        rows = np.flatnonzero(state.labels == cluster.id)
        label = f"{cluster.id}: {cluster.name}" if cluster.id != NOISE else cluster.name
        figure.add_trace(scatter(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=f"{label} ({cluster.size})",
            marker={"size": 6, "opacity": 0.8}, customdata=[[label, hover[r]] for r in rows],
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>"))
        if cluster.id != NOISE:
            centre = np.median(xy[rows], axis=0)
            figure.add_annotation(x=centre[0], y=centre[1], text=html.escape(cluster.name), showarrow=False,
                                  font={"size": 11}, bgcolor="rgba(255,255,255,0.7)")
    heading = title or f"{curation.artifacts.config.dataset}: {len(state.clusters)} clusters (version {state.version})"
    figure.update_layout(title=html.escape(heading), height=800, legend={"itemsizing": "constant"},
                         xaxis={"visible": False}, yaxis={"visible": False}, template="plotly_white")
    body = figure.to_html(include_plotlyjs=True, full_html=False, div_id="map",
                          config={"displaylogo": False, "showLink": False, "scrollZoom": True})
    return _PAGE.format(title=html.escape(heading), body=body, script=_SEARCH)


_SEARCH = """
const box = document.getElementById('search');
const count = document.getElementById('count');
box.addEventListener('input', () => {
  const div = document.getElementById('map');
  const query = box.value.trim().toLowerCase();
  let shown = 0;
  const opacity = div.data.map(trace => trace.customdata.map(item => {
    const hit = !query || (item[0] + ' ' + item[1]).toLowerCase().includes(query);
    shown += hit ? 1 : 0;
    return hit ? 0.85 : 0.04;
  }));
  Plotly.restyle(div, {'marker.opacity': opacity});
  count.textContent = query ? shown + ' matching rows' : '';
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1em}} #search{{width:24em;padding:.3em}} #count{{margin-left:1em}}</style>
</head><body>
<label>Search rows and cluster names: <input id="search" type="search" placeholder="e.g. refund"></label>
<span id="count"></span>
{body}
<script>{script}</script>
</body></html>
"""

