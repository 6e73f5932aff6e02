"""Export: cluster labels as CSV, the embeddings, and the run's settings."""
import json

import streamlit as st

from core.export import embeddings_npy, labels_csv
from core.storage import CONFIG, dumps_json
from pages.common import open_finished_run

st.title("Export")
record, run = open_finished_run("No finished run to export yet.")

k = st.number_input("Clusters", min_value=2, max_value=max(2, run.tree.n_leaves_), value=max(run.k, 2),
                    help=f"The run's own clustering has k = {run.k}; another value exports that cut of the tree.")
labels = run.labels if k == run.k else run.recut(int(k))[0]
stem = f"clusterlens-{record.id}"

st.download_button("Labels (CSV)", labels_csv(run.data.frame, labels), file_name=f"{stem}-labels.csv",
                   mime="text/csv", key="download_labels", type="primary")
st.caption("Your data with a `cluster` column first. Cells that a spreadsheet would run as formulas are prefixed "
           "with a quote.")
st.download_button("Embeddings (.npy)", embeddings_npy(run.embeddings), file_name=f"{stem}-embeddings.npy",
                   key="download_embeddings")
st.caption(f"{run.embeddings.shape[0]} × {run.embeddings.shape[1]} float32, rows in the order of the data.")
settings = {"run": record.id, "config": run.directory.read_json(CONFIG), "scores": run.scores}
st.download_button("Run settings and scores (JSON)", dumps_json(settings), file_name=f"{stem}-run.json",
                   mime="application/json", key="download_config")
with st.expander("Preview the settings"):
    st.json(json.loads(dumps_json(settings["config"])))
