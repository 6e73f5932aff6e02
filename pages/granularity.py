"""Granularity: how ClusterLLM chose k (the F-β curve over its pair questions) beside the cluster tree; pick a k,
see its scores and sizes, and use it: the tree's cut becomes the run's current clusters on every page."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.curation import Recut
from core.errors import ClusterLensError
from core.llm.review import cluster_sizes, granularity_curve
from core.metrics import score_clustering
from pages.charts import dendrogram_figure
from pages.common import curation, open_finished_run, show_scores

NO_RUN = "No finished ClusterLLM run yet. Start one on the **Run** page (method: ClusterLLM)."

st.title("Granularity")
record, run = open_finished_run(NO_RUN, method="clusterllm", label="ClusterLLM run", key="granularity-run")
cur = curation(str(record.path))
details = run.scores.get("details", {})
curve = granularity_curve(details)
predicted = details.get("k_predicted")
current = cur.labels()
current_k = len(set(current[current >= 0].tolist()))

default_k = min(max(predicted or run.k, 2), run.tree.n_leaves_)
k = int(st.number_input("Number of clusters", min_value=2, max_value=run.tree.n_leaves_, value=default_k,
                        key=f"granularity-k-{record.id}",
                        help=f"The judge's curve peaks at k = {predicted}; the run clustered with k = {run.k}; "
                             f"your current clusters number {current_k}."))
labels = run.tree.cut(k)
scores = score_clustering(run.space, labels, run.truth)
st.caption(f"The cluster tree cut at k = {k}. The judge's choice: {predicted}; the silhouette's: "
           f"{run.scores.get('k_silhouette') or 'not computed'}; the run's clusters: {run.k}; yours now: {current_k}.")

columns = st.columns([1, 3])
columns[0].metric("F-β at this k", f"{100 * curve[k]:.1f}" if k in curve else "n/a",
                  help=f"β = 0.92, from {details.get('queries', {}).get('pair', 0)} pair questions to the judge: how "
                       "well 'same cluster at this k' matches its 'same category' answers (0-100).")
with columns[1]:
    show_scores(scores, ("acc", "nmi", "silhouette"))

preview = cur.recut_preview(k)
st.caption(preview.message)
if st.button(f"Use k = {k}", key="use-k", type="primary", icon=":material/check:"):
    try:
        cur.apply(Recut(k))
        st.success(f"The run's current clusters are now the tree's cut at {k}: Explore and Export follow it. Undo "
                   "on Explore takes it back.", icon=":material/check_circle:")
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")

curve_col, tree_col = st.columns(2)
with curve_col:
    st.subheader("F-β over k")
    if curve:
        figure = go.Figure(go.Scatter(x=list(curve), y=[100 * f for f in curve.values()], mode="lines+markers",
                                      line={"color": "#3b6fd4"}, name="F-β"))
        if predicted:
            figure.add_vline(x=predicted, line_dash="dash", line_color="#2e9e5b",
                             annotation_text=f"judge's k = {predicted}")
        if k != predicted:
            figure.add_vline(x=k, line_dash="dot", line_color="#d4553b", annotation_text=f"k = {k}",
                             annotation_position="bottom right")
        figure.update_layout(height=340, xaxis_title="k", yaxis_title="F-β (0-100)",
                             margin={"l": 0, "r": 0, "t": 10, "b": 0})
        st.plotly_chart(figure, key=f"curve-{record.id}")
    else:
        st.info("The judge decided no pair question, so this run has no curve; k came from the clustering settings.")
with tree_col:
    st.subheader("Dendrogram")
    st.plotly_chart(dendrogram_figure(run.tree, k), key=f"granularity-dendrogram-{record.id}")
    st.caption(f"The run's cluster tree over the space it clustered in ({run.scores['clustered_space']}), which this "
               "page cuts; the judge's curve was measured on ClusterLLM's own Ward tree over the fine-tuned "
               "embeddings.")

st.subheader(f"Cluster sizes at k = {k}")
sizes = pd.DataFrame([{"cluster": str(cluster), "rows": rows} for cluster, rows in cluster_sizes(labels).items()])
st.bar_chart(sizes, x="cluster", y="rows", height=220, sort=False)
