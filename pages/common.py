"""What every page shares: the browser tab's workspace, the job manager, the current data set and run.

A workspace is an id in the URL (`?ws=...`): a reload keeps it, a new tab gets a new one, so two tabs never see each
other's uploads or runs, and nothing is lost on reload (the data set is saved in the workspace folder).
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core import paths
from core.data.dataset import Dataset
from core.errors import ClusterLensError
from core.llm.providers import use_secrets
from core.methods import METHODS
from core.runs import JobManager, RunStore, default_store
from core.runs.artifacts import RunArtifacts, load_artifacts
from core.runs.store import RunRecord

METRIC_NAMES = {"silhouette": "Silhouette ↑", "calinski_harabasz": "Calinski-Harabasz ↑",
                "davies_bouldin": "Davies-Bouldin ↓", "acc": "ACC ↑", "nmi": "NMI ↑", "ari": "ARI ↑", "ami": "AMI ↑"}
"""How the pages name each score (the arrow says which way is better)."""
VIEW_PAGES = {"explore": "pages/explore.py", "groups": "pages/cactus.py"}
"""Which page shows the runs of a method's view (the library names views, never page files)."""
WORKSPACE_PARAM = "ws"
_WORKSPACE_ID = re.compile(r"^[a-f0-9]{32}$")


def workspace_id() -> str:
    """This tab's workspace id: from the URL, else from the session (page switches drop query parameters), else new.

    It is written back to the URL so that a reload finds the same workspace.
    """
    current = st.query_params.get(WORKSPACE_PARAM, "")
    if not _WORKSPACE_ID.match(current or ""):
        current = st.session_state.get("workspace") or uuid.uuid4().hex
        st.query_params[WORKSPACE_PARAM] = current
    st.session_state["workspace"] = current
    return current


def workspace_dir() -> Path:
    folder = paths.home() / "workspaces" / workspace_id()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def share_secret_keys() -> list[str]:
    """Give the LLM judges the operator's Streamlit secrets (API keys, CLUSTERLENS_LLM_ENDPOINTS) without putting them
    into the process environment, where litellm could send them to any host. Returns the endpoints with a key."""
    try:
        entries = dict(st.secrets)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        entries = {}
    providers = use_secrets(entries)
    return [endpoint.name for endpoint in providers.endpoints if providers.key(endpoint)]


@st.cache_resource
def run_store() -> RunStore:
    """The run catalogue, shared by every session of this server."""
    return default_store()


@st.cache_resource
def job_manager() -> JobManager:
    """One manager per server process: a worker thread per device, shared by all sessions."""
    return JobManager(run_store())


@st.cache_resource(max_entries=6, show_spinner="Loading the run…")
def run_artifacts(run_dir: str) -> RunArtifacts:
    """A finished run's artifacts, loaded once per server and shared read-only by the pages."""
    return load_artifacts(run_dir)


def finished_run_picker(method: str | None = None, label: str = "Run", key: str | None = None) -> RunRecord | None:
    """A picker over this workspace's finished runs (of `method`, when given; current one first); None when there are
    none. Picking a run makes it the current one; with a `key` the pick stays put when a new run becomes current."""
    finished = [record for record in my_runs() if record.status == "done" and method in (None, record.method)
                and shown_on_explore(record.method)]
    if not finished:
        return None
    ids = [record.id for record in finished]
    current = current_run_id()
    record = st.selectbox(label, finished, index=ids.index(current) if current in ids else 0, format_func=run_label,
                          key=key)
    if record.id != current:
        set_current_run(record.id)
    return record


def shown_on_explore(method: str) -> bool:
    """Whether a method's runs open on Explore (row methods) rather than on a page of their own (CACTUS)."""
    return method in METHODS and METHODS[method].view == "explore"


def open_finished_run(empty_message: str, method: str | None = None, label: str = "Run",
                      key: str | None = None) -> tuple[RunRecord, RunArtifacts]:
    """Pick a finished run and load its artifacts; say `empty_message` (and stop) when there is none to open."""
    record = finished_run_picker(method, label, key)
    if record is None:
        st.info(empty_message)
        st.page_link("pages/run.py", label="Go to Run", icon=":material/play_circle:")
        st.stop()
    try:
        return record, run_artifacts(str(record.path))
    except ClusterLensError as error:
        st.error(str(error))
        st.stop()


def save_dataset(data: Dataset) -> None:
    """Make `data` the workspace's current data set (in the session and on disk, so a reload keeps it)."""
    folder = workspace_dir()
    data.frame.to_pickle(folder / "dataset.pkl")
    (folder / "dataset.json").write_text(json.dumps(
        {"kind": data.kind, "roles": data.roles, "name": data.name, "source": data.source, "notes": list(data.notes)}))
    st.session_state["dataset"] = data


def current_dataset() -> Dataset | None:
    """The workspace's current data set, restored from disk after a reload."""
    if "dataset" in st.session_state:
        return st.session_state["dataset"]
    folder = workspace_dir()
    if not (folder / "dataset.json").exists():
        return None
    meta = json.loads((folder / "dataset.json").read_text())
    data = Dataset(frame=pd.read_pickle(folder / "dataset.pkl"), kind=meta["kind"], roles=meta["roles"],
                   name=meta["name"], source=meta["source"], notes=tuple(meta["notes"]))
    st.session_state["dataset"] = data
    return data


def set_current_run(run_id: str) -> None:
    st.session_state["run_id"] = run_id
    (workspace_dir() / "current_run").write_text(run_id)


def current_run_id() -> str | None:
    """The run the analyst is looking at: chosen in this session, else the last one of this workspace."""
    if st.session_state.get("run_id"):
        return st.session_state["run_id"]
    marker = workspace_dir() / "current_run"
    if marker.exists():
        st.session_state["run_id"] = marker.read_text().strip()
        return st.session_state["run_id"]
    return None


def my_runs() -> list[RunRecord]:
    """This workspace's runs, newest first."""
    return run_store().list(owner=workspace_id())


def my_run(run_id: str | None) -> RunRecord | None:
    """A run of this workspace by id (None for runs of other workspaces: tabs stay apart)."""
    if not run_id:
        return None
    for record in my_runs():
        if record.id == run_id:
            return record
    return None


def run_label(record: RunRecord) -> str:
    """How a run is named in pickers: id, method, data set and status."""
    return f"{record.id} · {record.method} · {record.dataset} · {record.status}"


def require_dataset() -> Dataset:
    """The current data set, or a pointer to the Data page (and stop rendering)."""
    data = current_dataset()
    if data is None:
        st.info("No data yet. Upload a file or pick a sample on the **Data** page.")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/table_view:")
        st.stop()
    return data
