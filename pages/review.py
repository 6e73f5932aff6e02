"""Review: the judge's answers of a ClusterLLM run as a queue (accept, flip or skip each, then retrain on them), or
the person as the judge: the most informative questions about any text run, a batch at a time."""
import pandas as pd
import streamlit as st

from core.errors import ClusterLensError
from core.llm.review import (SHOW, embedding_verdicts, flipped_choice, item_at, retrain_config, review_counts,
                             review_queue)
from core.runs import create_run
from pages.asking import answer_questions, judgment_store
from pages.common import executor, my_runs, open_finished_run, run_store, set_current_run, workspace_id

KINDS = {"triplet": "Triplets (which choice is closer to the anchor?)", "pair": "Pairs (same category?)"}
SHOW_LABELS = {"unreviewed": "Unreviewed", "disagreements": "Judge ≠ embedding", "flipped": "Flipped",
               "all": "All"}
NO_RUN = "No finished ClusterLLM run yet. Start one on the **Run** page (method: ClusterLLM)."


def answer(judgment_id: int, choice, cursor_key: str) -> None:
    """Save a person's answer at once (so a reload keeps it) and move the queue on."""
    judgment_store().set_person_answer(judgment_id, choice)
    st.session_state[cursor_key] = judgment_id + 1


def clear(judgment_id: int) -> None:
    judgment_store().clear_person_answer(judgment_id)


def skip(judgment_id: int, cursor_key: str) -> None:
    st.session_state[cursor_key] = judgment_id + 1


def describe(kind: str, choice) -> str:
    if choice is None:
        return "undecided"
    return f"choice {choice}" if kind == "triplet" else ("same category" if choice else "different categories")


def card(title: str, text: str, badges: list[tuple[str, str]]) -> None:
    with st.container(border=True):
        st.markdown(f"**{title}** " + " ".join(f":{color}-badge[{label}]" for label, color in badges))
        st.text(text)  # plain text: a "$" or "*" in the data is not markup


st.title("Review")
MODES = {"judge": "Check the judge's answers", "person": "Answer the most useful questions yourself"}
if st.segmented_control("Mode", list(MODES), format_func=MODES.get, default="judge", key="review-mode",
                        label_visibility="collapsed") == "person":
    answer_questions()
    st.stop()
st.caption("Check the judge's answers. Your answers are saved at once and never overwrite the judge's; "
           "a retrain uses yours wherever you gave one. Keys: **A** accept, **F** flip, **S** skip.")
record, run = open_finished_run(NO_RUN, method="clusterllm", label="ClusterLLM run",
                                key="review-run")
store = judgment_store()

kind_col, show_col = st.columns(2)
kind = kind_col.radio("Questions", list(KINDS), format_func=KINDS.get, horizontal=True, key="review-kind")
show = show_col.radio("Show", SHOW, format_func=SHOW_LABELS.get, horizontal=True, key="review-show",
                      help="Judge ≠ embedding: the run's fine-tuned embedding answers otherwise (triplets: closer "
                           "choice by cosine; pairs: same cluster in the run).")

counts = review_counts(store, record.id, kind)
verdicts = embedding_verdicts(store.list(record.id, kind=kind), run.data.texts(), run.embeddings, run.labels)
queue = review_queue(store, record.id, kind, show, verdicts)
columns = st.columns(4)
columns[0].metric("Questions", counts["total"])
columns[1].metric("Reviewed", counts["reviewed"])
columns[2].metric("Flipped", counts["flipped"])
columns[3].metric("Judge agrees with you", "n/a" if counts["agreement"] is None else f"{counts['agreement']:.0%}",
                  help="Share of the questions you reviewed where your answer is the judge's.")

cursor_key = f"review-cursor-{record.id}-{kind}"
item = item_at(queue, st.session_state.get(cursor_key))
if item is None:
    st.success(f"No {kind} question under “{SHOW_LABELS[show]}”.", icon=":material/task_alt:")
else:
    st.caption(f"Question {queue.index(item) + 1} of {len(queue)} · #{item.id} · judge **{item.model}** "
               f"answered {describe(kind, item.answer)}"
               + (f" · you answered **{describe(kind, item.person_answer)}**" if item.reviewed else ""))

    def badges(choice) -> list[tuple[str, str]]:
        marks = [("judge", "green")] if item.answer == choice else []
        marks += [("you", "blue")] if item.reviewed and item.person_answer == choice else []
        return marks + ([("embedding", "gray")] if verdicts.get(item.id) == choice else [])

    if kind == "triplet":
        card("Anchor", item.texts[0], [])
        left, right = st.columns(2)
        with left:
            card("Choice 1", item.texts[1], badges(1))
        with right:
            card("Choice 2", item.texts[2], badges(2))
        options = {1: "Choice 1", 2: "Choice 2"}
    else:
        left, right = st.columns(2)
        with left:
            card("Text 1", item.texts[0], [])
        with right:
            card("Text 2", item.texts[1], [])
        same, different = badges(True), badges(False)
        st.markdown("**Same category?** "
                    + " ".join(f":{color}-badge[{label}: yes]" for label, color in same)
                    + " " + " ".join(f":{color}-badge[{label}: no]" for label, color in different))
        options = {True: "Same", False: "Different"}

    first, second, third, fourth = st.columns(4)
    if item.answer is not None:
        first.button("Accept", key="review-accept", shortcut="A", type="primary", icon=":material/check:",
                     on_click=answer, args=(item.id, item.answer, cursor_key))
        second.button("Flip", key="review-flip", shortcut="F", icon=":material/swap_horiz:",
                      on_click=answer, args=(item.id, flipped_choice(item), cursor_key))
    else:  # the judge could not decide: the person picks
        (one, label_one), (two, label_two) = options.items()
        st.caption(f"The judge left this question undecided, so there is nothing to accept or flip (keys A and F "
                   f"do nothing here): pick **{label_one}** or **{label_two}** (keys 1 and 2), or skip it (S).")
        first.button(label_one, key="review-first", shortcut="1", on_click=answer, args=(item.id, one, cursor_key))
        second.button(label_two, key="review-second", shortcut="2", on_click=answer, args=(item.id, two, cursor_key))
    third.button("Skip", key="review-skip", shortcut="S", icon=":material/skip_next:",
                 on_click=skip, args=(item.id, cursor_key))
    if item.reviewed:
        fourth.button("Clear my answer", key="review-clear", icon=":material/undo:", on_click=clear, args=(item.id,))

st.subheader("Retrain with reviewed answers")
reviewed = sum(review_counts(store, record.id, other)["reviewed"] for other in KINDS)
st.caption(f"A new run with this run's settings and data, answering the {reviewed} question(s) you reviewed with "
           "your answers (the judge answers the rest, from its stored answers where it can).")
if st.button("Retrain with reviewed answers", key="retrain", disabled=reviewed == 0, icon=":material/replay:",
             help=None if reviewed else "Review at least one question first."):
    try:
        child = create_run(run_store(), retrain_config(run.config), run.data.frame, owner=workspace_id(),
                           parent=record.id)
        executor().submit(child.id)
        set_current_run(child.id)
        st.success(f"Started run **{child.id}** with your answers. It is now the current run.",
                   icon=":material/replay:")
    except ClusterLensError as error:
        st.error(str(error), icon=":material/error:")


def retrained_runs() -> None:
    """Runs started from this one's reviews, with their live status."""
    children = [other for other in my_runs() if other.parent == record.id]
    if not children:
        return
    st.dataframe(pd.DataFrame([{"run": child.id, "status": child.status, "stage": child.stage,
                                "progress": round(child.progress, 2), "k": child.summary.get("k")}
                               for child in children]), hide_index=True, width="stretch")
    st.page_link("pages/run.py", label="Follow it on the Run page", icon=":material/play_circle:")


active = any(other.parent == record.id and other.status in ("queued", "running", "created") for other in my_runs())
st.fragment(run_every=2.0 if active else None)(retrained_runs)()
