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
MAP_POINTS = 60_000  # points drawn on the map at most (a seeded sample above it, said under the map)
HOVER_CHARS = 90  # hover text is cut to this many characters: the payload stays bounded
VIEW_QUANTILES = (0.005, 0.995)  # the map's view spans these quantiles of each axis, so a few outliers cannot squash it


def cluster_colour(cluster: int) -> str:
    """A cluster's colour, from its id: it stays the same across recuts, edits and pages."""
    return OUTLIER_COLOUR if cluster < 0 else PALETTE[cluster % len(PALETTE)]


def cluster_map(projection: np.ndarray, labels: np.ndarray, names: Mapping[int, str], hover: Sequence[str], *,
                seed: int = 0, height: int = 560) -> tuple[go.Figure, str]:
    """The 2-d map coloured by cluster (WebGL, one legend entry per named cluster), and a note on what it leaves out.

    Each point carries its row number (for selections); the view is clipped to the bulk of the points (outliers stay
    in the data and can be panned to); above MAP_POINTS rows a seeded sample is drawn.
    """
    rows = np.arange(len(labels))
    notes = []
    if len(rows) > MAP_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(len(labels), MAP_POINTS, replace=False))
        notes.append(f"The map shows a seeded sample of {MAP_POINTS:,} of the {len(labels):,} rows.")
    figure = go.Figure()
    shown = labels[rows]
    order = sorted(set(shown.tolist()), key=lambda c: (c < 0, -int((shown == c).sum())))
    for cluster in order:
        members = rows[shown == cluster]
        name = names.get(cluster, "Outliers" if cluster < 0 else f"Cluster {cluster}")
        text = [_cut(hover[i]) for i in members]
        figure.add_trace(go.Scattergl(
            x=projection[members, 0], y=projection[members, 1], mode="markers", name=name,
            marker={"size": 5, "opacity": 0.75, "color": cluster_colour(cluster)},
            customdata=members, text=text, hovertemplate=f"<b>{_escape(name)}</b><br>%{{text}}<extra></extra>"))
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
