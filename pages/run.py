"""Run: choose a method and settings, see what the run will cost, start it in the background, follow it, and manage
past runs."""
import time

import pandas as pd
import streamlit as st

from core.device import resolve_device
from core.errors import ClusterLensError
from core.methods import METHODS, method_settings, methods_for
from core.runs import create_run
from core.runs.estimates import EstimateLog, time_left
from core.settings import ClusteringSettings, RunConfig, settings_from_dict
from pages.common import (VIEW_PAGES, current_run_id, executor, my_run, my_runs, prepare_explore, require_dataset,
                          run_label, run_store, set_current_run, shown_on_explore, workspace_id)
from pages.settings_form import settings_form

LARGE_INPUT = 20_000  # above this many rows the page says what will be slow and offers a seeded sample


def show_estimates(method, settings, data) -> None:
    """Before anything starts: how long the run should take here and, for methods that ask a judge, how many
    questions the settings imply and what they cost."""
    seconds = method.estimate_seconds(data, settings, device)
    questions = method.estimate_questions(data, settings)
    if seconds is not None:
        st.caption(EstimateLog(run_store().db_path).estimate(method.name, device, seconds).describe())
    if questions is not None:
        st.info(questions.describe(), icon=":material/payments:")


st.title("Run")
owner = workspace_id()
data = require_dataset()
device = resolve_device("auto")
st.caption(f"Data: **{data.name}** · {data.kind} · {len(data.frame):,} rows"
           + (f" · label column **{data.label_column}** (for scoring only)" if data.label_column else ""))

methods = [method.name for method in methods_for(data.kind, view="explore")]
method_name = st.selectbox("Method", methods, format_func=lambda name: METHODS[name].title, key="method")
method = METHODS[method_name]
if method.summary:
    st.caption(method.summary)

method_col, clustering_col = st.columns(2)
with method_col:
    st.markdown(f"**{method.label} settings**")
    chosen = settings_form(method.settings_type, key=method_name, kind=data.kind)
with clustering_col:
    st.markdown("**Clustering**")
    chosen_clustering = settings_form(ClusteringSettings, key="clustering", kind=data.kind)

rows = len(data.frame)
sample_rows = None
if rows > LARGE_INPUT:
    st.warning(f"{rows:,} rows: embedding is the slow part ({method.label} reads every row), and the map, the k search "
               "and the cluster tree work on seeded samples of the rows. You can run on a sample first and apply the "
               "result to all rows later.", icon=":material/speed:")
    if st.checkbox("Run on a seeded sample", key="use_sample"):
        sample_rows = int(st.number_input("Rows in the sample", min_value=100, max_value=rows - 1,
                                          value=min(LARGE_INPUT, rows - 1), step=1000, key="sample_rows"))

try:
    settings = method_settings(method, chosen)
    clustering = settings_from_dict(ClusteringSettings, chosen_clustering)
    show_estimates(method, settings, data.sampled(sample_rows))
except ClusterLensError as error:
    settings = clustering = None
    st.warning(str(error), icon=":material/warning:")

if st.button("Start run", type="primary", key="start", disabled=settings is None, icon=":material/play_arrow:"):
    try:
        run_data = data.sampled(sample_rows)
        config = RunConfig(method=method_name, dataset=run_data.name, kind=run_data.kind, roles=run_data.roles,
                           method_settings=chosen, clustering=clustering)
        record = create_run(run_store(), config, run_data.frame, owner=owner)
        executor().submit(record.id)
        set_current_run(record.id)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")


ACTIVE = ("queued", "running")
watched = my_run(current_run_id())


@st.fragment(run_every=1.0 if watched is not None and watched.status in ACTIVE else None)
def live_status() -> None:
    """The current run's progress, refreshed every second while it is active; the whole page reruns once it ends,
    and a page showing a finished run polls nothing (every poll is a script run on the server, and eight pages
    polling after their runs had ended kept it busy)."""
    record = my_run(current_run_id())
    if record is None:
        st.caption("No run yet.")
        return
    st.markdown(f"**Current run** `{record.id}` · {record.method} · {record.dataset}")
    st.progress(min(max(record.progress, 0.0), 1.0), text=f"{record.status} · {record.stage} · {record.message}")
    if record.status == "running" and record.started:
        expected = EstimateLog(run_store().db_path).expected_seconds(record.id)
        st.caption(f"Whole run: {time_left(record.progress, time.time() - record.started, expected)}.")
    if record.status == "queued" and (place := executor().queue_position(record.id)) is not None:
        st.caption(place.describe())
    if record.status in ACTIVE:
        st.session_state["watching"] = record.id
        if st.button("Cancel", key=f"cancel-{record.id}"):
            executor().cancel(record.id)
        return
    if st.session_state.pop("watching", None) == record.id:
        if record.status == "done" and shown_on_explore(record.method):
            prepare_explore(record)
        st.rerun()  # the run just ended: refresh the history below too
    if record.status == "done" and not shown_on_explore(record.method):
        st.success("Done.", icon=":material/check_circle:")
        st.page_link(VIEW_PAGES[METHODS[record.method].view], label="See it on its page",
                     icon=":material/open_in_new:")
    elif record.status == "done":
        st.success(f"Done: {record.summary.get('k')} clusters.", icon=":material/check_circle:")
        st.page_link("pages/explore.py", label="Explore the result", icon=":material/scatter_plot:")
    elif record.status == "failed":
        st.error(record.message, icon=":material/error:")
    elif record.status == "interrupted":
        st.warning("This run was interrupted: the process running it stopped (a server restart, or the machine ran "
                   "out of memory). Resume it from the history below; it continues from its last checkpoint.")


live_status()

st.subheader("Run history")
runs = my_runs()
if not runs:
    st.caption("Runs you start appear here.")
    st.stop()
st.dataframe(pd.DataFrame([{
    "run": record.id, "method": record.method, "data": record.dataset, "status": record.status,
    "clusters": record.summary.get("k"), "started": pd.Timestamp(record.created, unit="s").strftime("%Y-%m-%d %H:%M"),
} for record in runs]), hide_index=True, width="stretch")
chosen_run = st.selectbox("Run", runs, format_func=run_label, key="history_pick")
open_col, resume_col, delete_col = st.columns(3)
if open_col.button("Make current", key="make_current"):
    set_current_run(chosen_run.id)
    st.rerun()
if chosen_run.resumable and resume_col.button("Resume / rerun", key="resume"):
    try:
        executor().submit(chosen_run.id)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
    else:
        set_current_run(chosen_run.id)
        st.rerun()
if chosen_run.finished and delete_col.button("Delete", key="delete"):
    run_store().delete(chosen_run.id)
    st.rerun()
