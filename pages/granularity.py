"""Granularity: how ClusterLLM chose k (the F-beta curve over its pair questions) beside the cluster tree, and a
k picker that recuts the tree and rescores."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.llm.review import cluster_sizes, granularity_curve
from pages.charts import dendrogram_figure
from pages.common import METRIC_NAMES, open_finished_run

NO_RUN = "No finished ClusterLLM run yet. Start one on the **Run** page (method: ClusterLLM)."

st.title("Granularity")
record, run = open_finished_run(NO_RUN, method="clusterllm", label="ClusterLLM run",
                                key="granularity-run")
details = run.scores.get("details", {})
curve = granularity_curve(details)
predicted = details.get("k_predicted")

max_k = max(2, min(run.tree.n_leaves_, max(curve, default=100)))
default_k = min(max(predicted or run.k, 2), max_k)
k = st.slider("Number of clusters", 2, max_k, default_k, key=f"granularity-k-{record.id}",
              help=f"The judge's curve peaks at k = {predicted}; the run clustered with k = {run.k}.")
if k == run.k:
    labels, scores = run.labels, run.scores["metrics"]
    st.caption(f"The run's own {run.config.clustering.algorithm} clustering at k = {k}.")
else:
    labels, scores = run.recut(k)
    st.caption(f"The cluster tree cut at k = {k} (the run's own clustering had k = {run.k}).")

headline = [key for key in ("acc", "nmi", "silhouette") if key in scores]
columns = st.columns(1 + len(headline))
columns[0].metric("F-β at this k", f"{curve[k]:.3f}" if k in curve else "n/a",
                  help=f"β = 0.92, from {details.get('queries', {}).get('pair', 0)} pair questions to the judge.")
for column, key in zip(columns[1:], headline):
    column.metric(METRIC_NAMES[key], f"{scores[key]:.3f}" if scores[key] == scores[key] else "n/a")

curve_col, tree_col = st.columns(2)
with curve_col:
    st.subheader("F-β over k")
    if curve:
        figure = go.Figure(go.Scatter(x=list(curve), y=list(curve.values()), mode="lines+markers",
                                      line={"color": "#3b6fd4"}, name="F-β"))
        if predicted:
            figure.add_vline(x=predicted, line_dash="dash", line_color="#2e9e5b",
                             annotation_text=f"judge's k = {predicted}")
        if k != predicted:
            figure.add_vline(x=k, line_dash="dot", line_color="#d4553b", annotation_text=f"k = {k}",
                             annotation_position="bottom right")
        figure.update_layout(height=340, xaxis_title="k", yaxis_title="F-β", margin={"l": 0, "r": 0, "t": 10, "b": 0})
        st.plotly_chart(figure, key=f"curve-{record.id}")
    else:
        st.info("The judge decided no pair question, so this run has no curve; k came from the clustering settings.")
with tree_col:
    st.subheader("Dendrogram")
    st.plotly_chart(dendrogram_figure(run.tree, k), key=f"granularity-dendrogram-{record.id}")
    st.caption(f"The run's cluster tree over the space it clustered in ({run.scores['clustered_space']}), which the "
               "k picker cuts; the judge's curve was measured on ClusterLLM's own Ward tree over the fine-tuned "
               "embeddings.")

st.subheader(f"Cluster sizes at k = {k}")
sizes = pd.DataFrame([{"cluster": str(cluster), "rows": rows} for cluster, rows in cluster_sizes(labels).items()])
st.bar_chart(sizes, x="cluster", y="rows", height=220, sort=False)
st.dataframe(sizes, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(sizes)))
