"""The Review page's "you as the judge" mode: the most informative questions about a finished text run, a few at a
time; after each batch the clusters are updated from every answer so far (a quick retrain), and a full retrain
starts a new run from them."""
import streamlit as st

from core.curation.ask import AskedState, PersonQuestions
from core.errors import ClusterLensError
from core.llm import JudgmentStore
from core.metrics import METRIC_INFO, as_shown
from pages.common import curation, open_finished_run, start_retrain

CHOICES = {1: "Choice 1", 2: "Choice 2", 0: "Can't tell"}


@st.cache_resource
def judgment_store() -> JudgmentStore:
    return JudgmentStore()


@st.cache_resource(max_entries=4, show_spinner="Clustering with your answers…")
def asked_state(run_dir: str, asked: int, version: int, batch_size: int) -> AskedState:
    """The loop rebuilt from the stored answers; cached until another answer or edit (`asked`, `version`) arrives."""
    return PersonQuestions(curation(run_dir), judgment_store(), batch_size=batch_size).state()


def save(asking: PersonQuestions, batch, keys: list[str]) -> None:
    """Store the answered questions of the batch (unanswered ones come back later)."""
    picked = [(triplet, st.session_state.get(key)) for triplet, key in zip(batch, keys)]
    answered = [(triplet, choice) for triplet, choice in picked if choice is not None]
    try:
        asking.answer([t for t, _ in answered], [c for _, c in answered])
    except ClusterLensError as error:
        st.session_state["ask-error"] = str(error)


def card(title: str, text: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{title}**")
        st.text(text)  # plain text: a "$" or "*" in the data is not markup


def answer_questions() -> None:
    """Draw the mode: scores before and after the answers, the next batch, and the full retrain."""
    record, run = open_finished_run("No finished run yet. Start one on the **Run** page.", key="ask-run")
    if run.data.kind != "text":
        st.info("Answering questions teaches a text embedder; this run clusters a table. Use Explore's edits.")
        return
    st.caption("You answer the questions whose answers would move the most rows: which of the two texts belongs with "
               "the anchor. After each batch the clusters are updated from all your answers in seconds (a light "
               "layer over the run's embeddings); “Retrain the embedder” then fine-tunes the model itself in a new "
               "run. Every answer is saved at once.")
    batch_size = int(st.number_input("Questions per batch", min_value=1, max_value=20, value=5, key="ask-batch"))
    cur = curation(str(record.path))
    asking = PersonQuestions(cur, judgment_store(), batch_size=batch_size)
    asked = len(asking.answered()[0])
    try:
        state = asked_state(str(record.path), asked, cur.replayed().version, batch_size)
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")
        return
    if "ask-error" in st.session_state:
        st.error(st.session_state.pop("ask-error"), icon=":material/error:")
    columns = st.columns(4)
    columns[0].metric("Your answers", state.answered, help=f"{state.asked - state.answered} more you could not tell.")
    columns[1].metric("Rows that would move", f"{state.moved:,}",
                      help="Rows whose cluster differs from the run's current clusters after your answers.")
    for column, key in zip(columns[2:], ("acc", "nmi") if "acc" in state.scores else ("silhouette",)):
        before, after = as_shown(key, state.run_scores.get(key)), as_shown(key, state.scores.get(key))
        if before is not None and after is not None:
            column.metric(METRIC_INFO[key][0], f"{after:.1f}", f"{after - before:+.1f}", help=METRIC_INFO[key][1]
                          + " Change: against the run's current clusters.")

    texts = run.data.texts()
    batch = asking.next_questions(state)
    if not len(batch):
        st.success("No question left that would change the clusters.", icon=":material/task_alt:")
    keys = [f"ask-{record.id}-{state.asked}-{index}" for index in range(len(batch))]
    for number, ((anchor, first, second), key) in enumerate(zip(batch, keys), start=1):
        st.markdown(f"**Question {number} of {len(batch)}**: which choice belongs with the anchor?")
        card("Anchor", texts[anchor])
        left, right = st.columns(2)
        with left:
            card("Choice 1", texts[first])
        with right:
            card("Choice 2", texts[second])
        st.radio("Your answer", list(CHOICES), format_func=CHOICES.get, index=None, horizontal=True, key=key,
                 label_visibility="collapsed")
    if len(batch):
        st.button("Save my answers and update the clusters", key="ask-save", type="primary", icon=":material/check:",
                  on_click=save, args=(asking, batch, keys))

    st.subheader("Retrain the embedder on my answers")
    st.caption("A new run: the run's embedder is fine-tuned on your answers (and your edits on Explore), and every "
               "row is clustered again. This run stays as it is.")
    if st.button("Retrain the embedder", key="ask-retrain", icon=":material/model_training:",
                 disabled=state.answered == 0, help=None if state.answered else "Answer a few questions first."):
        start_retrain(record, run)
