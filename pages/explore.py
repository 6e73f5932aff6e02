"""Explore: the run's current clusters (its own clustering plus the analyst's edits) with their names, the map,
scores, profiles and examples; rename, merge, split, move rows, mark outliers, undo and redo, start over from a cut
of the tree, and retrain from the edits."""
import pandas as pd
import streamlit as st

from core.curation import MarkOutliers, Merge, Move, NamerChoice, Recut, Rename, Split
from core.errors import ClusterLensError
from core.llm import current_providers
from core.metrics import METRIC_INFO, as_shown
from core.runs.artifacts import rows_in_regions
from pages.charts import cluster_map, dendrogram_figure
from pages.common import curation, open_finished_run, show_scores, start_retrain

ROWS_PER_PAGE = 200


def act(edit) -> None:
    """Apply one edit to the current clusters and redraw the page; a wrong one is said, and nothing changes."""
    try:
        with st.spinner("Updating the clusters…"):
            cur.apply(edit)
        st.session_state["explore-done"] = f"Done: {cur.history()[-1].summary}."
        forget_picked_clusters()
    except ClusterLensError as error:
        st.session_state["explore-error"] = str(error)
    st.rerun()


def forget_picked_clusters() -> None:
    """Empty the cluster picker after an edit (the picked clusters may be gone, renamed or split): the next run draws
    a new picker, so no stale choice comes back from the browser."""
    st.session_state["picker-generation"] = st.session_state.get("picker-generation", 0) + 1


def step(direction: str) -> None:
    """Undo or redo the last edit."""
    try:
        record = cur.undo() if direction == "undo" else cur.redo()
        st.session_state["explore-done"] = f"{direction.capitalize()}: {record.summary}."
        forget_picked_clusters()
    except ClusterLensError as error:
        st.session_state["explore-error"] = str(error)


def use_namer(offline: bool) -> None:
    """Name the clusters offline, or with the LLM the form holds, from now on (the page names them on its next run);
    a bad choice is said."""
    state = st.session_state
    choice = NamerChoice() if offline else NamerChoice(f"litellm:{state['namer-model'].strip()}",
                                                        state["namer-max-cost"] or None, None, state["namer-server"])
    try:
        cur.choose_namer(choice)
        st.session_state["explore-done"] = ("Names from the offline namer." if choice.offline else
                                            f"Naming the clusters with {choice.spec.partition(':')[2]}.")
    except ClusterLensError as error:
        st.session_state["explore-error"] = str(error)


def llm_names_form() -> None:
    """Choose an LLM to name the clusters, with what it would ask and cost shown before anything is paid."""
    chosen = cur.namer_choice()
    if cur.naming_problem:
        st.warning(cur.naming_problem, icon=":material/warning:")
    st.caption("Names now come from " + ("the offline namer (distinguishing words and central rows)."
                                         if chosen.offline else f"**{chosen.spec.partition(':')[2]}**.")
               + " Names you gave stay as they are.")
    model = st.text_input("LLM (a litellm model)", key="namer-model", placeholder="openai/gpt-4o-mini, ollama/llama3",
                          value="" if chosen.offline else chosen.spec.partition(":")[2]).strip()
    servers = [endpoint.name for endpoint in current_providers().endpoints if endpoint.api_base]
    st.selectbox("Server", [None, *servers], key="namer-server",
                          format_func=lambda name: "the model's own provider" if name is None else name,
                          help="The servers this app's operator allows; a local OpenAI-compatible one is listed "
                               "here when the operator adds it.")
    st.number_input("Most to spend (USD, 0: no cap)", min_value=0.0, value=0.0, step=0.1,
                               key="namer-max-cost", help="Counts everything this run paid an LLM for.")
    if model:
        try:
            st.caption(cur.naming_estimate(f"litellm:{model}").describe())
        except ClusterLensError as error:
            st.error(str(error), icon=":material/error:")
    name_col, offline_col = st.columns(2)
    name_col.button("Name with this LLM", key="namer-use", icon=":material/auto_awesome:", disabled=not model,
                    on_click=use_namer, args=(False,))
    offline_col.button("Back to offline names", key="namer-offline", disabled=chosen.offline,
                       on_click=use_namer, args=(True,))


def parse_rows(text: str, n_rows: int) -> list[int]:
    """Row numbers typed as "3, 17, 40-45"; a ClusterLensError names what is wrong."""
    found: list[int] = []
    for part in filter(None, (piece.strip() for piece in text.replace(";", ",").split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ClusterLensError(f"“{part}” is not a row number or a range like 40-45.") from None
        if not 0 <= first <= last < n_rows:
            raise ClusterLensError(f"Rows are numbered 0 to {n_rows - 1}; “{part}” is outside.")
        found.extend(range(first, last + 1))
    return found


def selected_rows(event, projection) -> list[int]:
    """Row numbers a lasso or box picked on the map: every row inside it, drawn or not (the map draws a sample of
    large runs), plus points picked one by one (their custom data)."""
    selection = event.selection if event else {}
    rows = set(rows_in_regions(projection, [(box["x"], box["y"]) for box in selection.get("box", [])],
                               [(lasso["x"], lasso["y"]) for lasso in selection.get("lasso", [])]).tolist())
    for point in selection.get("points", []):
        value = point.get("customdata")
        if isinstance(value, dict):
            value = value.get("0", value.get(0))
        elif isinstance(value, (list, tuple)):
            value = value[0]
        if value is not None:
            rows.add(int(value))
    return sorted(rows)


st.title("Explore")
record, run = open_finished_run("No finished run yet. Start one on the **Run** page.")
cur = curation(str(record.path))
with st.spinner("Naming the clusters…"):
    state = cur.current()
labels, names = state.labels, state.names()
clusters = [c for c in state.clusters if c.id >= 0]
history = cur.history()
scores = cur.scores()
source = {"setting": "the k you set", "method": f"{record.method}'s own choice", "silhouette": "the best silhouette",
          "edits": "the edited run it was retrained from"}.get(run.scores.get("k_source"), "the run")
st.caption(f"{run.data.name} · {len(labels):,} rows · **{len(clusters)} clusters**"
           + (f" · {int((labels < 0).sum()):,} outliers" if (labels < 0).any() else "")
           + f" · the run made {run.k} ({source})" + (f" · {sum(r.state == 'done' for r in history)} edit(s)"
                                                      if history else ""))
if run.scores.get("k_note"):
    st.caption(run.scores["k_note"])
for key, show in (("explore-done", st.success), ("explore-error", st.error)):
    if key in st.session_state:
        show(st.session_state.pop(key), icon=":material/info:" if key == "explore-done" else ":material/error:")

st.subheader("Scores")
show_scores(scores)
rows = [{"clustering": "your current clusters", **{METRIC_INFO[k][0]: as_shown(k, v) for k, v in scores.items()}}]
if history:
    rows.append({"clustering": "as the run made them",
                 **{METRIC_INFO[k][0]: as_shown(k, v) for k, v in run.scores["metrics"].items()}})
titles = run.scores.get("comparison_titles") or run.scores.get("details", {}).get("comparison_titles", {})
rows += [{"clustering": f"{titles.get(name, name)} (same k as the run)",
          **{METRIC_INFO[k][0]: as_shown(k, v) for k, v in values.items()}}
         for name, values in run.scores.get("comparisons", {}).items()]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
if run.truth is None:
    st.caption("Mark a label column on the Data page before running to also get ACC, NMI, ARI and AMI.")
details = run.scores.get("details", {})
if details.get("loss", {}).get("step"):
    with st.expander("Fine-tuning loss"):
        losses = details["loss"]
        objective = details.get("objective", "causal_lm")  # runs made before the objective was a setting
        st.line_chart(pd.DataFrame({"loss": losses["step"]}).rename_axis("step"), height=220, x_label="step",
                      y_label={"causal_lm": "causal-LM loss", "contrastive": "contrastive loss"}.get(
                          objective, "causal-LM + contrastive loss"))
        st.caption("Mean loss per epoch: " + ", ".join(f"{value:.3f}" for value in losses.get("epoch", [])
                                                       if value is not None))

map_col, list_col = st.columns([3, 2])
with map_col:
    st.subheader("Map")
    drawn = run.hover_rows()
    figure, note = cluster_map(run.projection, labels, names, run.hover_texts(rows=drawn), rows=drawn)
    event = st.plotly_chart(figure, on_select="rerun", selection_mode=("lasso", "box"),
                            key=f"map-{record.id}-{state.version}")
    st.caption((note + " " if note else "") + "Draw a lasso or a box to select rows.")
with list_col:
    st.subheader("Clusters")
    table = pd.DataFrame([{"id": c.id, "name": c.name, "rows": c.size, "share": f"{c.share:.1%}"} for c in clusters])
    st.dataframe(table, hide_index=True, width="stretch", height=min(560, 38 + 35 * len(table)),
                 column_config={"id": st.column_config.NumberColumn(width="small")})
    with st.expander("Names from an LLM", expanded=bool(cur.naming_problem)):
        llm_names_form()

st.subheader("Edit")
undo_col, redo_col, history_col = st.columns([1, 1, 4])
undo_col.button("Undo", key="undo", icon=":material/undo:", on_click=step, args=("undo",),
                disabled=not any(r.state == "done" for r in history))
redo_col.button("Redo", key="redo", icon=":material/redo:", on_click=step, args=("redo",),
                disabled=not any(r.state == "undone" for r in history))
with history_col.expander(f"History ({len(history)} edits)"):
    if history:
        st.dataframe(pd.DataFrame([{"edit": r.summary, "state": r.state,
                                    "when": pd.Timestamp(r.created, unit="s").strftime("%Y-%m-%d %H:%M")}
                                   for r in history]), hide_index=True, width="stretch")
    else:
        st.caption("No edit yet. The run's own clustering is always kept; undo takes back any edit.")

cluster_tab, rows_tab = st.tabs(["Clusters: rename, merge, split", "Rows: move, mark as outliers"], key="edit-tab",
                              on_change="rerun")  # the open tab survives reruns (typing rows, an edit)
with cluster_tab:
    picker_key = f"edit-clusters-{record.id}-{st.session_state.get('picker-generation', 0)}"
    chosen = st.multiselect("Clusters", [c.id for c in clusters], key=picker_key,
                            format_func=lambda c: f"{names.get(c)} ({c})",
                            placeholder="Pick one to rename or split, several to merge")
    if len(chosen) == 1:
        only = chosen[0]
        name_col, split_col = st.columns(2)
        with name_col:
            new_name = st.text_input("Name", value=names.get(only, ""), key=f"name-{record.id}-{only}")
            description = st.text_input("One-line description (optional)", key=f"description-{record.id}-{only}")
            if st.button("Rename", key="rename", icon=":material/edit:"):
                act(Rename(only, new_name, description or None))
        with split_col:
            parts = st.number_input("Split into (0: choose by silhouette)", min_value=0, max_value=50, value=0,
                                    key="split-k")
            if st.button(f"Split “{names.get(only)}”", key="split", icon=":material/call_split:"):
                act(Split(only, k=int(parts) or None))
    elif len(chosen) > 1:
        if st.button(f"Merge {len(chosen)} clusters into “{names.get(chosen[0])}”", key="merge",
                     icon=":material/call_merge:"):
            act(Merge(tuple(chosen)))
with rows_tab:
    typed = st.text_input("Rows (numbers as in the `row` column, e.g. 3, 17, 40-45)", key=f"edit-rows-{record.id}",
                          help="Or draw a lasso or a box on the map: the selected rows are added to these.")
    try:
        rows_picked = sorted(set(selected_rows(event, run.projection)) | set(parse_rows(typed, len(labels))))
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
        rows_picked = selected_rows(event, run.projection)
    if rows_picked:
        st.markdown(f"**{len(rows_picked):,} selected row(s)**")
        targets = {c.id: c.name for c in clusters}
        move_col, outlier_col = st.columns([3, 1])
        with move_col:
            target = st.selectbox("Move them to", ["new", *targets], key="move-to",
                                  format_func=lambda t: "a new cluster" if t == "new" else f"{targets[t]} ({t})")
            if st.button("Move", key="move", icon=":material/low_priority:"):
                act(Move(tuple(rows_picked), to=target))
        if outlier_col.button("Mark as outliers", key="outliers"):
            act(MarkOutliers(tuple(rows_picked)))
        pages = max(1, -(-len(rows_picked) // ROWS_PER_PAGE))
        page = st.number_input("Page", min_value=1, max_value=pages, value=1, key="rows-page") if pages > 1 else 1
        shown = rows_picked[(page - 1) * ROWS_PER_PAGE:page * ROWS_PER_PAGE]
        listing = run.data.frame.iloc[shown].copy()
        listing.insert(0, "cluster", [names.get(int(labels[i]), "") for i in shown])
        listing.insert(0, "row", shown)
        st.dataframe(listing, hide_index=True, width="stretch")
    else:
        st.caption("No row selected.")

st.subheader("What each cluster is")
terms = cur.terms() if run.data.kind == "text" else {}
profiles = {p.cluster: p.summary for p in cur.profiles()} if run.data.kind == "table" else {}
st.dataframe(pd.DataFrame([{
    "id": c.id, "name": c.name, "rows": c.size, "description": c.description,
    "sets it apart": ", ".join(terms.get(c.id, [])) if terms else profiles.get(c.id, ""),
    "examples": " | ".join(c.examples)} for c in state.clusters]), hide_index=True, width="stretch",
    column_config={"description": st.column_config.TextColumn(width="large"),
                   "examples": st.column_config.TextColumn(width="large")})

st.subheader("Granularity: start over from a cut of the tree")
tree_col, cut_col = st.columns([3, 2])
with cut_col:
    k = int(st.number_input("Number of clusters", min_value=2, max_value=run.tree.n_leaves_,
                            value=min(max(len(clusters), 2), run.tree.n_leaves_), key=f"cut-{record.id}"))
    preview = cur.recut_preview(k)
    st.caption(preview.message)
    if st.button(f"Use this cut ({k} clusters)", key="recut", icon=":material/content_cut:"):
        act(Recut(k))
with tree_col:
    st.plotly_chart(dendrogram_figure(run.tree, k), key=f"dendrogram-{record.id}")
    st.caption(f"The tree is built over {run.tree.n_leaves_} leaves"
               + (" (cluster centres, since the data set is large)." if run.tree.n_leaves_ < len(labels) else "."))

if run.data.kind == "text":
    st.subheader("Retrain from my edits")
    done = sum(r.state == "done" and r.kind != "rename" for r in history)
    st.caption("Your moves, merges and splits (and the triplet answers you reviewed) become training examples: the "
               "embedder is fine-tuned on them and every row is clustered again, in a new run. Your names follow "
               "their clusters; this run stays as it is.")
    if st.button("Retrain from my edits", key="retrain", icon=":material/model_training:", disabled=done == 0,
                 help=None if done else "Move, merge or split something first."):
        start_retrain(record, run)
