"""Figures more than one page draws."""
from __future__ import annotations

import plotly.graph_objects as go

from core.cluster import ClusterTree


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
