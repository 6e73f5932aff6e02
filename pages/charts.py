"""Figures more than one page draws: the cluster map, the dendrogram, and the colours that follow clusters."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import colorcet
import numpy as np
import plotly.graph_objects as go

from core.cluster import ClusterTree

PALETTE: list[str] = list(colorcet.palette["glasbey_category10"])
"""256 colours made to tell many categories apart (Glasbey), starting with the familiar ten."""
OUTLIER_COLOUR = "#b0b0b0"
HOVER_CHARS = 90  # hover text is cut to this many characters: the payload stays bounded
VIEW_QUANTILES = (0.005, 0.995)  # the map's view spans these quantiles of each axis, so a few outliers cannot squash it


def cluster_colour(cluster: int) -> str:
    """A cluster's colour, from its id: it stays the same across recuts, edits and pages."""
    return OUTLIER_COLOUR if cluster < 0 else PALETTE[cluster % len(PALETTE)]


def cluster_map(projection: np.ndarray, labels: np.ndarray, names: Mapping[int, str], hover: Sequence[str], *,
                rows: np.ndarray | None = None, height: int = 560) -> tuple[go.Figure, str]:
    """The 2-d map coloured by cluster (WebGL, one legend entry per named cluster), and a note on what it leaves out.

    `rows`: the rows to draw (all when None; `RunArtifacts.hover_rows()` above HOVER_ROWS), `hover` their texts, one
    per drawn row. Each point carries its row number (for selections); the view is clipped to the bulk of the points
    (outliers stay in the data and can be panned to).
    """
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    notes = []
    if len(rows) < len(labels):
        notes.append(f"The map shows a sample of {len(rows):,} of the {len(labels):,} rows, every cluster in "
                     "proportion; a selection takes every row inside it, drawn or not.")
    figure = go.Figure()
    shown = labels[rows]
    order = sorted(set(shown.tolist()), key=lambda c: (c < 0, -int((shown == c).sum())))
    for cluster in order:
        drawn = np.flatnonzero(shown == cluster)
        members = rows[drawn]
        name = names.get(cluster, "Outliers" if cluster < 0 else f"Cluster {cluster}")
        figure.add_trace(go.Scattergl(
            x=projection[members, 0], y=projection[members, 1], mode="markers", name=name,
            marker={"size": 5, "opacity": 0.75, "color": cluster_colour(cluster)},
            customdata=members, text=[_cut(hover[i]) for i in drawn],
            hovertemplate=f"<b>{_escape(name)}</b><br>%{{text}}<extra></extra>"))
    (x_low, x_high), (y_low, y_high) = (_view(projection[rows, axis]) for axis in (0, 1))
    outside = int(((projection[rows, 0] < x_low) | (projection[rows, 0] > x_high)
                   | (projection[rows, 1] < y_low) | (projection[rows, 1] > y_high)).sum())
    if outside:
        notes.append(f"{outside:,} far-out point(s) lie outside the view (zoom out or pan to see them); they are "
                     "still in the data.")
    figure.update_layout(height=height, dragmode="lasso", legend_title_text="cluster",
                         xaxis={"visible": False, "range": [x_low, x_high]},
                         yaxis={"visible": False, "range": [y_low, y_high]},
                         margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return figure, " ".join(notes)


def dendrogram_figure(tree: ClusterTree, k: int, height: int = 340) -> go.Figure:
    """The cluster tree's top branches with a dashed line where a cut leaves k clusters."""
    drawing = tree.dendrogram()
    figure = go.Figure()
    for xs, ys in zip(drawing["icoord"], drawing["dcoord"]):
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#5b6b7f", "width": 1},
                                    hoverinfo="skip", showlegend=False))
    figure.add_hline(y=tree.cut_height(k), line_dash="dash", line_color="#d4553b", annotation_text=f"cut at k = {k}")
    figure.update_layout(height=height, xaxis_visible=False, yaxis_title="merge distance",
                         margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return figure


def length_histogram(lengths: np.ndarray, height: int = 220) -> go.Figure:
    """Words per text as a histogram of at most 40 bars (binned here, so the browser gets 40 numbers, not one per
    text)."""
    top = max(int(np.quantile(lengths, 0.999)) if len(lengths) else 1, 1)
    counts, edges = np.histogram(np.minimum(lengths, top), bins=min(40, top), range=(0, top))
    figure = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color=PALETTE[0],
                              hovertemplate="%{y:,} texts of about %{x:.0f} words<extra></extra>"))
    figure.update_layout(height=height, bargap=0.05, xaxis_title="words per text", yaxis_title="texts",
                         margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return figure


def _view(values: np.ndarray) -> tuple[float, float]:
    """An axis range over the bulk of the values, with a margin."""
    low, high = np.quantile(values, VIEW_QUANTILES) if len(values) else (0.0, 1.0)
    margin = 0.06 * (high - low) or 1.0
    return float(low - margin), float(high + margin)


def _cut(text: str) -> str:
    text = _escape(" ".join(str(text).split()))
    return text if len(text) <= HOVER_CHARS else text[:HOVER_CHARS - 1] + "…"


def _escape(text: str) -> str:
    """Text safe inside Plotly's HTML-ish hover labels."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
