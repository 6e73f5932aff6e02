"""CACTUS: train on groups a person has clustered, cluster new groups the same way, correct one, and add it back."""
import pandas as pd
import streamlit as st

from core.data.groups import (append_group, as_groups_dataset, example_groups, groups_from_dataset,
                              guess_group_column, parse_pasted_groups, read_groups, relabelled, training_groups)
from core.data.intake import load_dataset
from core.device import resolve_device
from core.embed.registry import resolve_embedder
from core.errors import ClusterLensError
from core.methods.cactus import CACTUSSettings, load_run_models, load_run_report, predict_groups
from core.methods import METHODS
from core.runs import create_run
from core.runs.estimates import EstimateLog
from core.settings import RunConfig, settings_from_dict
from pages.common import (UPLOAD_TYPES, current_dataset, executor, my_runs, run_label, run_store, save_dataset,
                          workspace_id)
from pages.settings_form import settings_form

NO_CLUSTERS = "(none)"


@st.cache_resource(max_entries=2, show_spinner="Loading the trained model…")
def cactus_models(run_dir: str):
    """(trained, untrained) models of a finished run, loaded once per server."""
    device = resolve_device("auto")
    return load_run_models(run_dir, lambda spec: resolve_embedder(spec, device=device), device=device)


def column_pickers(frame: pd.DataFrame, key: str, guesses: tuple[str, str, str | None], *,
                   clusters_optional: bool) -> tuple[str, str, str | None]:
    """Three selectboxes: the group, entity text and cluster columns."""
    columns = [str(c) for c in frame.columns]
    cluster_options = ([NO_CLUSTERS] if clusters_optional else []) + columns
    left, middle, right = st.columns(3)
    group = left.selectbox("Group column", columns, index=columns.index(guesses[0]), key=f"{key}-group")
    text = middle.selectbox("Entity text column", columns, index=columns.index(guesses[1]), key=f"{key}-text")
    wanted = guesses[2] if guesses[2] in cluster_options else cluster_options[0]
    cluster = right.selectbox("Cluster column", cluster_options, index=cluster_options.index(wanted),
                              key=f"{key}-cluster")
    return group, text, None if cluster == NO_CLUSTERS else cluster


def read_upload(uploaded, state_key: str):
    """The uploaded file as a data set, read once per upload; None (and a message) when it cannot be used."""
    if st.session_state.get(f"{state_key}-id") != uploaded.file_id:
        st.session_state[f"{state_key}-id"] = uploaded.file_id
        try:
            st.session_state[state_key] = load_dataset(uploaded, uploaded.name)
            st.session_state.pop(f"{state_key}-error", None)
        except ClusterLensError as error:
            st.session_state[state_key] = None
            st.session_state[f"{state_key}-error"] = f"Could not use **{uploaded.name}**: {error}"
    if st.session_state.get(f"{state_key}-error"):
        st.error(st.session_state[f"{state_key}-error"], icon=":material/error:")
    return st.session_state.get(state_key)


def guesses(data) -> tuple[str, str, str | None]:
    columns = [str(c) for c in data.frame.columns]
    text = data.text_column or next((c for c in columns if c != guess_group_column(data)), columns[0])
    return guess_group_column(data), str(text), data.label_column


st.title("CACTUS")
st.caption("Learn how your team clusters small groups (the queries of one session, the products of one order) from "
           "groups it has already clustered, then cluster new groups the same way.")

# 1 · Training groups
st.subheader("1 · Training groups")
data = current_dataset("groups")
if data is None and (main := current_dataset()) is not None and main.group_column:
    data = main  # a groups table loaded on the Data page
table = None
if data is not None and data.group_column:
    try:
        table = groups_from_dataset(data)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
with st.expander("Upload a groups table or use the example", expanded=table is None):
    st.caption("One row per entity: a group column (session, order...), the entity's text, and the cluster a person "
               "gave it within its group. Cluster ids only need to be unique within a group.")
    uploaded = st.file_uploader("Groups table", type=UPLOAD_TYPES, key="cactus-upload")
    raw = read_upload(uploaded, "cactus-raw") if uploaded is not None else None
    if raw is not None:
        chosen = column_pickers(raw.frame, "train-columns", guesses(raw), clusters_optional=False)
        if st.button("Use these columns", key="cactus-use-columns"):
            try:
                save_dataset(as_groups_dataset(raw, *chosen), "groups")
                st.rerun()
            except ClusterLensError as error:
                st.error(f"{error} The training groups you had are kept.", icon=":material/error:")
    if st.button("Use the example groups (support sessions)", key="cactus-example"):
        save_dataset(example_groups(), "groups")
        st.rerun()
if table is None:
    st.info("No training groups yet: upload a groups table or use the example.")
    st.stop()
sizes = [len(g) for g in table.labelled]
st.write(f"**{data.name}**: **{len(table.labelled)}** clustered groups, {sum(sizes)} entities, "
         f"{sum(len(set(g.clusters)) for g in table.labelled) / max(len(sizes), 1):.1f} clusters per group on average"
         + (f"; {len(table.unlabelled)} groups without clusters" if table.unlabelled else ""))
for note in table.notes:
    st.caption(f"ℹ️ {note}")

# 2 · Train
st.subheader("2 · Train")
with st.form("cactus-train"):
    settings = settings_form(CACTUSSettings, key="cactus", kind="text")
    start = st.form_submit_button("Train", type="primary")
try:
    device = resolve_device("auto")
    guess = METHODS["cactus"].estimate_seconds(data, settings_from_dict(CACTUSSettings, settings), device)
    st.caption(EstimateLog(run_store().db_path).estimate("cactus", device, guess).describe())
except ClusterLensError as error:  # settings the form let through but the method refuses: said when Train is pressed
    st.caption(f"No estimate: {error}")
if start:
    try:
        training_groups(data)
        config = RunConfig(method="cactus", dataset=data.name, kind="text", roles=data.roles, method_settings=settings)
        record = create_run(run_store(), config, data.frame, owner=workspace_id())
        executor().submit(record.id)
        st.session_state["cactus-run"] = record.id
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")

runs = [record for record in my_runs() if record.method == "cactus"]
if not runs:
    st.caption("Training runs in the background; its progress shows here.")
    st.stop()
ids = [record.id for record in runs]
current = st.session_state.get("cactus-run") if st.session_state.get("cactus-run") in ids else ids[0]
record = st.selectbox("Training run", runs, index=ids.index(current), format_func=run_label, key="cactus-run-pick")
st.session_state["cactus-run"] = record.id


@st.fragment(run_every=1.0 if record.status in ("queued", "running") else None)
def training_status(run_id: str) -> None:
    """The run's progress while it trains, with Cancel; the page reloads once it stops."""
    live = run_store().get(run_id)
    st.progress(min(max(live.progress, 0.0), 1.0), text=f"{live.status} · {live.stage} · {live.message}")
    if live.status in ("queued", "running"):
        if st.button("Cancel", key=f"cactus-cancel-{run_id}"):
            executor().cancel(run_id)
    elif live.status != record.status:
        st.rerun()


training_status(record.id)
if record.status == "failed":
    st.error(record.message, icon=":material/error:")
if record.resumable and st.button("Resume training", key="cactus-resume"):
    try:
        executor().submit(record.id)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
    else:
        st.rerun()
if record.status != "done":
    st.stop()

# 3 · Scores
report = load_run_report(record.path)
metrics = report["metrics"]
st.subheader("3 · Scores on the validation groups")
st.caption(f"{metrics['groups']['val']} clustered groups held out from training; they also chose the clustering "
           f"threshold (cosine distance {metrics['threshold']:.2f}; untrained encoder "
           f"{metrics['base_threshold']:.2f}).")
columns = st.columns(4)
for column, name in zip(columns, ("ami", "ari")):
    mean, base = metrics["metrics"][name][0], metrics["base_metrics"][name][0]
    column.metric(f"{name.upper()} (mean over groups)", f"{mean:.1f}", f"{mean - base:+.1f} vs untrained encoder")
columns[2].metric("Training groups", metrics["groups"]["train"])
columns[3].metric("Training time", f"{sum(metrics['seconds'].values()) / 60:.1f} min")
with st.expander("Per group"):
    st.dataframe(pd.DataFrame(metrics["per_group"]), hide_index=True, width="stretch")
finished = [r for r in runs if r.status == "done"]
comparison = []
for other in finished:
    other_report = load_run_report(other.path)
    chosen = other_report["settings"]
    comparison.append({"run": other.id, "attention": chosen["attention"], "loss": chosen["loss"],
                       "self-supervised steps": chosen["pretrain_steps"], "epochs": chosen["epochs"],
                       "AMI": other_report["metrics"]["metrics"]["ami"][0],
                       "ARI": other_report["metrics"]["metrics"]["ari"][0],
                       "untrained AMI": other_report["metrics"]["base_metrics"]["ami"][0],
                       "untrained ARI": other_report["metrics"]["base_metrics"]["ari"][0]})
st.caption("This workspace's trained models side by side (train again with other attention or loss settings to "
           "compare the ablations). Runs on different training groups are not directly comparable.")
st.dataframe(pd.DataFrame(comparison), hide_index=True, width="stretch")

# 4 · Cluster new groups
st.subheader("4 · Cluster new groups")
paste_tab, upload_tab = st.tabs(["Paste", "Upload"])
new_groups = None
with paste_tab:
    pasted = st.text_area("One entity per line, a blank line between groups", key="cactus-paste", height=180,
                          placeholder="refund my last order\nwhere is my parcel\nmoney back please\n\n...")
    if st.button("Cluster the pasted groups", key="cactus-predict-paste"):
        try:
            new_groups = parse_pasted_groups(pasted)
        except ClusterLensError as error:
            st.error(str(error), icon=":material/error:")
with upload_tab:
    new_file = st.file_uploader("Groups to cluster (clusters optional: given, they are scored)", type=UPLOAD_TYPES,
                                key="cactus-new-upload")
    new_raw = read_upload(new_file, "cactus-new-raw") if new_file is not None else None
    if new_raw is not None:
        chosen = column_pickers(new_raw.frame, "new-columns", guesses(new_raw), clusters_optional=True)
        if st.button("Cluster the uploaded groups", key="cactus-predict-upload"):
            try:
                found = read_groups(new_raw.frame, *chosen)
                new_groups = [*found.labelled, *found.unlabelled]
                for note in found.notes:
                    st.caption(f"ℹ️ {note}")
            except ClusterLensError as error:
                st.error(str(error), icon=":material/error:")
if new_groups:
    trained, base = cactus_models(str(record.path))
    st.session_state["cactus-predictions"] = (record.id, predict_groups(trained, base, new_groups))

run_id, predictions = st.session_state.get("cactus-predictions", (None, []))
if run_id != record.id or not predictions:
    st.stop()
for prediction in predictions:
    group, labels = prediction.group, prediction.labels
    with st.container(border=True):
        headline = f"**{group.id}** · {len(group)} entities · **{labels.max() + 1}** clusters"
        if prediction.scores:
            s = prediction.scores
            headline += (f" · AMI {s['ami']:.1f} / ARI {s['ari']:.1f} (untrained encoder: {s['base_ami']:.1f} / "
                         f"{s['base_ari']:.1f})")
        st.markdown(headline)
        boxes = st.columns(min(int(labels.max()) + 1, 4))
        for cluster in range(int(labels.max()) + 1):
            with boxes[cluster % len(boxes)]:
                members = [text for text, label in zip(group.texts, labels) if label == cluster]
                st.markdown(f"*Cluster {cluster + 1}*\n" + "\n".join(f"- {text}" for text in members))

st.markdown("**Correct a group and add it to the training data**")
pick = st.selectbox("Group to correct", range(len(predictions)), key="cactus-correct-pick",
                    format_func=lambda index: predictions[index].group.id)
chosen_prediction = predictions[pick]
edited = st.data_editor(
    pd.DataFrame({"entity": list(chosen_prediction.group.texts),
                  "cluster": [str(label + 1) for label in chosen_prediction.labels]}),
    disabled=["entity"], hide_index=True, width="stretch", key=f"cactus-edit-{record.id}-{pick}")
if added := st.session_state.pop("cactus-added", None):
    st.success(added, icon=":material/check_circle:")
if st.button("Add to training data", key="cactus-add", icon=":material/add:"):
    try:
        corrected = relabelled(chosen_prediction.group, edited["cluster"].tolist())
        save_dataset(append_group(data, corrected), "groups")
        st.session_state["cactus-added"] = (f"Added {corrected.id} ({len(corrected)} entities) to the training "
                                            "groups. Train again to learn from it.")
        st.rerun()  # the counts above include it at once
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
