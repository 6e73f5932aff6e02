"""What every page shares: this tab's project, the run catalogue and executor, cached loaders.

A project is an id in the URL (`?ws=...`); pages keep only ids, and read everything else from the project
(`core.workspace`) and the catalogue, so a reload, another tab on the same link or a restarted server see the same
data and runs, and two projects never see each other's.
"""
from __future__ import annotations

import hmac
import os
import time

import importlib
import threading

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core import paths
from core.data.dataset import Dataset
from core.data.intake import SUPPORTED_EXTENSIONS
from core.errors import ClusterLensError
from core.curation import Curation
from core.llm.providers import use_secrets
from core.metrics import METRIC_INFO, as_shown
from core.settings import RunConfig
from core.methods import METHODS
from core.runs import QueueExecutor, RunStore, create_run, default_store, make_executor
from core.runs.artifacts import RunArtifacts, load_artifacts
from core.runs.store import RunRecord
from core.workspace import PROJECT_ID, Workspace, Workspaces


UPLOAD_TYPES = list(SUPPORTED_EXTENSIONS)
RUN_FUNCTION = "core.tasks:run_task"  # what every background run calls: a method's run or a retrain from edits
VIEW_PAGES = {"explore": "pages/explore.py", "groups": "pages/cactus.py"}
"""Which page shows the runs of a method's view (the library names views, never page files)."""
WORKSPACE_PARAM = "ws"
PATH_STEPS = (
    ("Data", "load a CSV, Excel, Parquet, JSONL or text file, or a sample, and say what each column is"),
    ("Run", "pick a method; it runs in the background, with progress and Cancel"),
    ("Explore", "the map, the clusters' names and profiles, scores; rename, merge, split and move rows"),
    ("Review", "check the judge's answers and retrain with yours"),
    ("Export", "labels with names, embeddings, a map a colleague can open offline"),
)
"""The path through ClusterLens, as the start page tells it."""


def project_id() -> str | None:
    """This tab's project id: from the URL, else from the session (kept across page switches); None when the tab
    has not opened a project yet."""
    current = st.query_params.get(WORKSPACE_PARAM, "")
    if PROJECT_ID.match(current or ""):
        st.session_state["workspace"] = current
        return current
    saved = st.session_state.get("workspace")
    if saved:
        st.query_params[WORKSPACE_PARAM] = saved
    return saved


def open_project(project: str, page: str) -> None:
    """Make `project` this tab's project and go to `page` (the id goes in the URL, so the link reopens it)."""
    st.session_state["workspace"] = project
    st.switch_page(page, query_params={WORKSPACE_PARAM: project})


def workspace_id() -> str:
    """This tab's project id; a page that needs a project says how to get one and stops when there is none."""
    current = project_id()
    if current is None:
        st.info("Open a project, or create one, to start.", icon=":material/folder_open:")
        st.page_link("pages/projects.py", label="Go to Projects", icon=":material/home:")
        st.stop()
    return current


@st.cache_resource
def workspaces() -> Workspaces:
    """Every project under this server's ClusterLens home."""
    return Workspaces(paths.workspaces_root())


def workspace() -> Workspace:
    """This tab's project (made on first use)."""
    return workspaces().open(workspace_id(), create=True)


def share_secret_keys() -> list[str]:
    """Give the LLM judges the operator's Streamlit secrets (API keys, CLUSTERLENS_LLM_ENDPOINTS) without putting them
    into the process environment, where litellm could send them to any host. Returns the endpoints with a key."""
    try:
        entries = dict(st.secrets)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        entries = {}
    providers = use_secrets(entries)
    return [endpoint.name for endpoint in providers.endpoints if providers.key(endpoint)]


PASSWORD_SETTING = "CLUSTERLENS_PASSWORD"
"""The operator's setting (environment, or Streamlit secrets) that makes every visitor type a password first."""


def operator_password() -> str | None:
    """The password the operator set for this server, if any (never from a user's input or URL)."""
    try:
        from_secrets = st.secrets.get(PASSWORD_SETTING)
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        from_secrets = None
    return os.environ.get(PASSWORD_SETTING) or (str(from_secrets) if from_secrets else None)


def signed_in() -> bool:
    """Whether this session may see the app: no password is set, or it was typed correctly in this session."""
    return operator_password() is None or bool(st.session_state.get("signed_in"))


def sign_in() -> None:
    """The only page a visitor sees until they type the operator's password (a wrong one costs a second)."""
    st.title("ClusterLens")
    st.caption("This server asks for a password. Ask the person who runs it.")
    with st.form("sign-in"):
        typed = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in", type="primary"):
            expected = operator_password() or ""
            if hmac.compare_digest(typed.encode("utf-8"), expected.encode("utf-8")):
                st.session_state["signed_in"] = True
                st.rerun()
            time.sleep(1.0)
            st.error("That is not the password.", icon=":material/lock:")


@st.cache_resource
def run_store() -> RunStore:
    """The run catalogue, shared by every session of this server."""
    return default_store()


@st.cache_resource
def executor() -> QueueExecutor:
    """One executor per server process (thread or subprocess, from $CLUSTERLENS_EXECUTOR), shared by all sessions;
    runs left queued in the catalogue start when it does."""
    return make_executor(run_store(), runner=RUN_FUNCTION)


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


WARM_UP_MODULES = ("pages.charts", "bertopic")
"""Imported once per server in the background: Explore's figures (colorcet and plotly: half a second of its first
render at 100,000 rows) and the naming library (BERTopic: many seconds, paid by the first edit's new names)."""


@st.cache_resource
def warm_up() -> threading.Thread:
    """Import WARM_UP_MODULES in the background, once per server, so that the first page needing them does not
    wait."""
    def load() -> None:
        for module in WARM_UP_MODULES:
            importlib.import_module(module)

    thread = threading.Thread(target=load, name="clusterlens-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(max_entries=6, show_spinner="Loading the run…")
def curation(run_dir: str) -> Curation:
    """A finished run as the analyst curates it (names, edits, current clusters), one per run per server."""
    return Curation(run_dir)


def prepare_explore(record: RunRecord) -> threading.Thread:
    """Load a run that just finished into the caches Explore reads (its artifacts, its curation with the current
    clusters, and the terms or profiles), in the background while the analyst is still on the Run page: at 100,000
    rows that is seconds Explore's first render no longer waits for. Explore shows any problem itself."""
    def load() -> None:
        try:
            run_artifacts(str(record.path))
            prepared = curation(str(record.path))
            prepared.current()
            if record.kind == "text":
                prepared.terms()
            else:
                prepared.profiles()
        except ClusterLensError:
            pass

    thread = threading.Thread(target=load, name=f"clusterlens-prepare-{record.id}", daemon=True)
    thread.start()
    return thread


def show_scores(scores: dict, keys: tuple[str, ...] = ("acc", "nmi", "ari", "silhouette")) -> None:
    """The headline scores as cards on the 0-100 scale, each explained in a line."""
    shown = [key for key in keys if as_shown(key, scores.get(key)) is not None]
    for column, key in zip(st.columns(max(len(shown), 1)), shown):
        name, explanation = METRIC_INFO[key]
        column.metric(name, f"{as_shown(key, scores[key]):.1f}", help=explanation)


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


@st.cache_resource(max_entries=8, show_spinner="Loading the data…")
def _stored_dataset(project: str, slot: str, version: int) -> Dataset | None:
    """A project's data set, read once per version (the version changes whenever it is replaced)."""
    return workspaces().open(project).dataset(slot)


def save_dataset(data: Dataset, slot: str = "main") -> None:
    """Make `data` this project's data set in `slot` (on disk, so a reload and another tab keep it)."""
    workspace().save_dataset(data, slot)


def current_dataset(slot: str = "main") -> Dataset | None:
    """This project's data set in `slot` (main: what runs cluster; groups: CACTUS's training groups)."""
    current = workspace()
    data = _stored_dataset(current.id, slot, current.data_version(slot))
    for note in current.notes:
        st.warning(note, icon=":material/warning:")
    return data


def set_current_run(run_id: str) -> None:
    workspace().set_current_run(run_id)


def current_run_id() -> str | None:
    """The run the analyst is looking at in this project."""
    return workspace().current_run


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


def start_retrain(record: RunRecord, run: RunArtifacts) -> None:
    """Start a new run that fine-tunes the run's embedder on the person's edits and answers and clusters again;
    say where to follow it (or what stopped it)."""
    try:
        config = RunConfig(method=run.config.method, dataset=run.config.dataset, kind=run.config.kind,
                           roles=run.config.roles, method_settings=run.config.method_settings,
                           clustering=run.config.clustering, task="retrain", source=str(record.path))
        child = create_run(run_store(), config, run.data.frame, owner=workspace_id(), parent=record.id)
        executor().submit(child.id)
        set_current_run(child.id)
        st.success(f"Started run **{child.id}**; follow it on the Run page.", icon=":material/model_training:")
        st.page_link("pages/run.py", label="Go to Run", icon=":material/play_circle:")
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
