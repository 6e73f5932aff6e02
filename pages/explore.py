"""Explore: the scatter coloured by cluster, scores, sizes, profiles, and the dendrogram with a k slider."""
import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from core.metrics import EXTERNAL_METRICS, INTERNAL_METRICS
from core.profiles import profiles_frame
from pages.charts import dendrogram_figure
from pages.common import METRIC_NAMES, open_finished_run


def selected_row(point: dict) -> int:
    """The data row of a selected point: its custom_data, which arrives as a list, a {"0": row} dict or a scalar."""
    value = point["customdata"]
    if isinstance(value, dict):
        value = value.get("0", value.get(0))
    elif isinstance(value, (list, tuple)):
        value = value[0]
    return int(value)


def metric_row(name: str, scores: dict) -> dict:
    return {"representation": name, **{METRIC_NAMES[key]: scores.get(key) for key in (*INTERNAL_METRICS, *EXTERNAL_METRICS)
                                       if key in scores}}


st.title("Explore")
record, run = open_finished_run("No finished run yet. Start one on the **Run** page.")

max_k = max(2, min(run.tree.n_leaves_, 100))
k = st.slider("Number of clusters (recuts the tree)", 2, max_k, min(max(run.k, 2), max_k), key=f"k-{record.id}",
              help=f"The run chose k = {run.k}. Other values cut the cluster tree at that many clusters.")
if k == run.k:
    labels, scores = run.labels, run.scores["metrics"]
    st.caption(f"{run.config.clustering.algorithm} clustering · k = {k} ({run.scores['k_source']}) · "
               f"clustered in {run.scores['clustered_space']}")
else:
    labels, scores = run.recut(k)
    st.caption(f"Tree cut at k = {k} (the run's own clustering had k = {run.k}) · clustered in "
               f"{run.scores['clustered_space']}")

rows = [metric_row(f"{record.method} (k={k})", scores)]
if k != run.k:
    rows.append(metric_row(f"{record.method} as run (k={run.k})", run.scores["metrics"]))
details = run.scores.get("details", {})
titles = run.scores.get("comparison_titles") or details.get("comparison_titles", {})
rows += [metric_row(f"{titles.get(name, name)} (k={run.k})", values)
         for name, values in run.scores.get("comparisons", {}).items()]
st.subheader("Scores")
headline = [key for key in ("acc", "nmi", "ari", "silhouette") if key in scores]
for column, key in zip(st.columns(len(headline)), headline):
    column.metric(METRIC_NAMES[key], f"{scores[key]:.3f}" if scores[key] == scores[key] else "n/a")
st.dataframe(pd.DataFrame(rows).round(3), hide_index=True, width="stretch")
if run.truth is None:
    st.caption("Mark a label column on the Data page before running to also get ACC, NMI, ARI and AMI.")
if details.get("loss", {}).get("step"):
    st.subheader("Fine-tuning loss")
    losses = details["loss"]
    st.line_chart(pd.DataFrame({"loss": losses["step"]}).rename_axis("step"), height=220, x_label="step",
                  y_label="causal-LM loss")
    st.caption("Mean loss per epoch: " + ", ".join(f"{value:.3f}" for value in losses.get("epoch", [])
                                                   if value is not None))

scatter_col, sizes_col = st.columns([3, 1])
names = np.array([("noise" if label < 0 else str(label)) for label in labels])
shown = run.hover_rows()
frame = pd.DataFrame({"x": run.projection[shown, 0], "y": run.projection[shown, 1], "cluster": names[shown],
                      "text": run.hover_texts(rows=shown), "row": shown})
with scatter_col:
    st.subheader("Map")
    figure = px.scatter(frame, x="x", y="y", color="cluster", hover_name="text", custom_data=["row"],
                        render_mode="webgl",
                        category_orders={"cluster": sorted(frame["cluster"].unique(), key=lambda c: (len(c), c))})
    figure.update_traces(marker={"size": 6, "opacity": 0.8})
    figure.update_layout(height=520, dragmode="lasso", xaxis_visible=False, yaxis_visible=False,
                         legend_title_text="cluster", margin={"l": 0, "r": 0, "t": 10, "b": 0})
    event = st.plotly_chart(figure, on_select="rerun", selection_mode=("lasso", "box"), key=f"map-{record.id}-{k}")
    if len(shown) < len(labels):
        st.caption(f"The map shows {len(shown):,} of the {len(labels):,} rows, a sample in which every cluster keeps "
                   "its share; sizes and tables count every row.")
with sizes_col:
    st.subheader("Sizes")
    sizes = pd.Series(names).value_counts().rename_axis("cluster").reset_index(name="rows")
    st.dataframe(sizes, hide_index=True, height=520)

selected = sorted({selected_row(point) for point in (event.selection.points if event else [])
                   if point.get("customdata") is not None})
if selected:
    st.subheader(f"Selected rows ({len(selected)})")
    picked = run.data.frame.iloc[selected].copy()
    picked.insert(0, "cluster", labels[selected])
    st.dataframe(picked, width="stretch")
else:
    st.caption("Draw a lasso or box on the map to list the rows inside it.")

st.subheader("What each cluster is")
if run.data.kind == "table":
    st.dataframe(profiles_frame(run.profiles(labels)), hide_index=True, width="stretch")
else:
    terms = run.terms(labels)
    texts = run.data.texts()
    st.dataframe(pd.DataFrame([{
        "cluster": cluster, "size": int((labels == cluster).sum()), "top words": ", ".join(words),
        "examples": " | ".join(texts[i] for i in np.flatnonzero(labels == cluster)[:3]),
    } for cluster, words in sorted(terms.items())]), hide_index=True, width="stretch")

st.subheader("Dendrogram")
st.plotly_chart(dendrogram_figure(run.tree, k), key=f"dendrogram-{record.id}")
st.caption(f"The tree is built over {run.tree.n_leaves_} leaves"
           + (" (cluster centres, since the data set is large)." if run.tree.n_leaves_ < len(labels) else "."))
