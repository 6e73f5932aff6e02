"""Run: choose a method and settings, start a background run, follow it, and manage past runs."""
import pandas as pd
import streamlit as st

from core.cluster import ALGORITHMS, LINKAGES
from core.cluster.choose_k import default_k_range
from core.device import resolve_device
from core.errors import ClusterLensError
from core.methods import METHODS, method_settings, methods_for
from core.runs import create_run
from core.settings import ClusteringSettings, RunConfig
from pages.common import (VIEW_PAGES, current_run_id, executor, my_run, my_runs, require_dataset, run_label, run_store,
                          set_current_run, shown_on_explore, workspace_id)
from pages.settings_form import settings_form


def show_estimates(method, values: dict, data) -> None:
    """Before anything starts: how long the run should take on this machine and, for methods that ask a judge, how
    many questions the settings imply and what they cost (for the settings as last submitted)."""
    try:
        settings = method_settings(method, values)
        seconds = method.estimate_seconds(data, settings, device)
        questions = method.estimate_questions(data, settings)
    except ClusterLensError as error:
        st.warning(str(error), icon=":material/warning:")
        return
    if seconds is not None:
        duration = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
        st.caption(f"Estimated time on {device}: about {duration}.")
    if questions is not None:
        st.info(questions.describe(), icon=":material/payments:")


st.title("Run")
data = require_dataset()
device = resolve_device("auto")
st.caption(f"Data: **{data.name}** · {data.kind} · {len(data.frame)} rows"
           + (f" · label column **{data.label_column}** (for scoring only)" if data.label_column else ""))

methods = [method.name for method in methods_for(data.kind, view="explore")]
method_name = st.selectbox("Method", methods, format_func=lambda name: METHODS[name].title, key="method")

with st.form("settings"):
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{METHODS[method_name].title}**")
        chosen_settings = settings_form(METHODS[method_name].settings_type, key=method_name, kind=data.kind)
    with right:
        st.markdown("**Clustering**")
        algorithm = st.selectbox("Algorithm", ALGORITHMS, key="algorithm")
        linkage = st.selectbox("Linkage (agglomerative)", LINKAGES)
        auto_k = st.checkbox("Choose k by silhouette", value=True, key="auto_k",
                             help="Tries every k in the range and keeps the best silhouette. HDBSCAN finds k itself.")
        k = st.number_input("k (when not chosen automatically)", min_value=2, max_value=max(2, len(data.frame) - 1),
                            value=min(8, max(2, len(data.frame) - 1)), key="k")
        k_range = st.slider("k range for the silhouette search", 2, max(3, min(300, len(data.frame) - 1)),
                            default_k_range(len(data.frame)))
        reduce = st.selectbox("Reduce before clustering", ["auto", "umap", "none"],
                              help="auto: 5-d cosine UMAP for texts (as BERTopic), none for tables.")
        seed = st.number_input("Seed", value=42, step=1)
    start_col, estimate_col = st.columns([1, 3])
    start = start_col.form_submit_button("Start run", type="primary")
    estimate_col.form_submit_button("Update the estimate", type="tertiary")

show_estimates(METHODS[method_name], chosen_settings, data)

if start:
    try:
        config = RunConfig(
            method=method_name, dataset=data.name, kind=data.kind, roles=data.roles, method_settings=chosen_settings,
            clustering=ClusteringSettings(algorithm=algorithm, n_clusters=None if auto_k else int(k),
                                          k_min=k_range[0], k_max=k_range[1], linkage=linkage, reduce=reduce,
                                          seed=int(seed)),
        )
        record = create_run(run_store(), config, data.frame, owner=workspace_id())
        executor().submit(record.id)
        set_current_run(record.id)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")


@st.fragment(run_every=1.0)
def live_status() -> None:
    """The current run's progress, refreshed every second while it is active."""
    record = my_run(current_run_id())
    if record is None:
        st.caption("No run yet.")
        return
    st.markdown(f"**Current run** `{record.id}` · {record.method} · {record.dataset}")
    st.progress(min(max(record.progress, 0.0), 1.0), text=f"{record.status} · {record.stage} · {record.message}")
    if record.status == "queued" and (place := executor().queue_position(record.id)) is not None:
        st.caption(place.describe())
    if record.status in ("queued", "running"):
        if st.button("Cancel", key=f"cancel-{record.id}"):
            executor().cancel(record.id)
    elif record.status == "done" and not shown_on_explore(record.method):
        st.success("Done.", icon=":material/check_circle:")
        st.page_link(VIEW_PAGES[METHODS[record.method].view], label="See it on its page",
                     icon=":material/open_in_new:")
    elif record.status == "done":
        summary = record.summary
        st.success(f"Done: {summary.get('k')} clusters.", icon=":material/check_circle:")
        st.page_link("pages/explore.py", label="Explore the result", icon=":material/scatter_plot:")
    elif record.status == "failed":
        st.error(record.message, icon=":material/error:")
    elif record.status == "interrupted":
        st.warning("This run was interrupted (the server stopped while it ran). Resume it from the history below.")


live_status()

st.subheader("Run history")
runs = my_runs()
if not runs:
    st.caption("Runs you start appear here.")
    st.stop()
st.dataframe(pd.DataFrame([{
    "run": record.id, "method": record.method, "data": record.dataset, "status": record.status,
    "k": record.summary.get("k"), "started": pd.Timestamp(record.created, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
} for record in runs]), hide_index=True, width="stretch")
chosen = st.selectbox("Run", runs, format_func=run_label, key="history_pick")
open_col, resume_col, delete_col = st.columns(3)
if open_col.button("Make current", key="make_current"):
    set_current_run(chosen.id)
    st.rerun()
if chosen.resumable and resume_col.button("Resume / rerun", key="resume"):
    try:
        executor().submit(chosen.id)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
    else:
        set_current_run(chosen.id)
        st.rerun()
if chosen.finished and delete_col.button("Delete", key="delete"):
    run_store().delete(chosen.id)
    st.rerun()
