"""Export: the current clusters (names, edits, version) as CSV, a map a colleague can open offline, the embeddings
and the run's settings; and the run applied to new data."""
import json

import streamlit as st

from core.curation import assign_rows, html_map, named_labels_csv
from core.data.intake import load_dataset
from core.errors import ClusterLensError
from core.export import defused_csv, embeddings_npy
from core.storage import CONFIG, dumps_json
from pages.common import UPLOAD_TYPES, curation, open_finished_run

st.title("Export")
record, run = open_finished_run("No finished run to export yet.")
cur = curation(str(record.path))
with st.spinner("Naming the clusters…"):
    state = cur.current()
stem = f"clusterlens-{record.id}"
st.caption(f"The run's current clusters: {len([c for c in state.clusters if c.id >= 0])} clusters, edit version "
           f"{state.version} (the original clustering is version 0). Recut or edit them on Explore.")

labels_tab, new_tab = st.tabs(["Download", "Apply to new data"], key="export-tab", on_change="rerun")
with labels_tab:
    st.download_button("Labels with names (CSV)", lambda: named_labels_csv(cur), file_name=f"{stem}-labels.csv",
                       mime="text/csv", key="download_labels", type="primary", on_click="ignore",
                       icon=":material/download:")
    st.caption("Your data with `row`, `cluster`, `name`, `original_cluster` and `version` first. Cells a spreadsheet "
               "would run as formulas are prefixed with a quote.")
    st.download_button("Map to share (HTML)", lambda: html_map(cur, title=run.data.name).encode("utf-8"),
                       file_name=f"{stem}-map.html", mime="text/html", key="download_map", on_click="ignore",
                       icon=":material/map:")
    st.caption("One file that opens in any browser without ClusterLens or a network: the map with the cluster names, "
               "hover, and a search box.")
    st.download_button("Embeddings (.npy)", lambda: embeddings_npy(run.embeddings), file_name=f"{stem}-embeddings.npy",
                       key="download_embeddings", on_click="ignore")
    st.caption(f"{run.embeddings.shape[0]:,} × {run.embeddings.shape[1]} float32, rows in the order of the data.")
    settings = {"run": record.id, "config": run.directory.read_json(CONFIG), "scores": run.scores}
    st.download_button("Run settings and scores (JSON)", dumps_json(settings), file_name=f"{stem}-run.json",
                       mime="application/json", key="download_config", on_click="ignore")
    with st.expander("Preview the settings"):
        st.json(json.loads(dumps_json(settings["config"])))

with new_tab:
    st.caption("Sort new rows into this run's current clusters (your edits and names included), with the run's own "
               "(fine-tuned, when it has one) model. Each row gets a confidence; rows far from every cluster are "
               "marked new.")
    uploaded = st.file_uploader("New data (same columns as the run's data)", type=UPLOAD_TYPES, key="assign-upload")
    if uploaded is not None and st.button("Apply the run", key="assign", type="primary",
                                          icon=":material/move_to_inbox:"):
        try:
            new = load_dataset(uploaded, uploaded.name)
            with st.spinner(f"Embedding and assigning {len(new.frame):,} rows…"):
                st.session_state["assigned"] = (record.id, assign_rows(cur, new.frame))
        except ClusterLensError as error:
            st.error(f"Could not apply the run to **{uploaded.name}**: {error}", icon=":material/error:")
    found_for, assigned = st.session_state.get("assigned", (None, None))
    if found_for == record.id and assigned is not None:
        summary = assigned.groupby("name").agg(rows=("row", "size"), new=("new", "sum"),
                                               confidence=("confidence", "mean")).reset_index()
        st.markdown(f"**{len(assigned):,} rows** assigned; **{int(assigned['new'].sum()):,}** far from every "
                    "cluster (marked new).")
        st.dataframe(summary.sort_values("rows", ascending=False), hide_index=True, width="stretch")
        st.dataframe(assigned.head(500), hide_index=True, width="stretch")
        st.download_button("Assigned rows (CSV)", lambda: defused_csv(assigned), file_name=f"{stem}-assigned.csv",
                           mime="text/csv", key="download_assigned", on_click="ignore")
