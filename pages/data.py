"""Data: upload a file or pick a sample, preview it, and set what each column is."""
import numpy as np
import pandas as pd
import streamlit as st

from core.data.dataset import ROLES
from core.data.intake import load_dataset
from core.data.samples import SAMPLES, load_sample
from core.errors import ClusterLensError
from core.profiles import LONG_TEXT_WORDS, text_lengths
from pages.charts import length_histogram
from pages.common import UPLOAD_TYPES, current_dataset, save_dataset


st.title("Data")
st.caption("A table (CSV, Excel, Parquet) or a set of texts (a CSV column, a TXT file with one text per line, JSONL).")

upload_tab, sample_tab = st.tabs(["Upload a file", "Use a sample"])
with upload_tab:
    uploaded = st.file_uploader("Data file", type=UPLOAD_TYPES, key="upload")
    if uploaded is not None and st.session_state.get("loaded_upload") != uploaded.file_id:
        try:
            save_dataset(load_dataset(uploaded, uploaded.name))
            st.session_state["loaded_upload"] = uploaded.file_id
            st.session_state.pop("intake_error", None)
        except ClusterLensError as error:
            st.session_state["intake_error"] = f"Could not use **{uploaded.name}**: {error}"
            st.session_state["loaded_upload"] = uploaded.file_id
    if st.session_state.get("intake_error"):
        st.error(st.session_state["intake_error"], icon=":material/error:")
with sample_tab:
    choice = st.selectbox("Sample", list(SAMPLES), format_func=lambda key: SAMPLES[key].title)
    st.caption(SAMPLES[choice].description)
    if st.button("Load sample", key="load_sample"):
        save_dataset(load_sample(choice))
        st.session_state.pop("intake_error", None)

data = current_dataset()
if data is None:
    st.info("Upload a file or load a sample to begin.")
    st.stop()

st.subheader(f"{data.name}")
st.write(f"**{len(data.frame)}** rows · **{len(data.frame.columns)}** columns · treated as **{data.kind}**")
for note in data.notes:
    st.caption(f"ℹ️ {note}")
st.dataframe(data.frame.head(200), width="stretch", height=260)
if data.kind == "text" and data.text_column is not None:
    lengths = text_lengths(data.texts())
    long_texts = int((lengths > LONG_TEXT_WORDS).sum())
    chart_col, note_col = st.columns([3, 2])
    chart_col.plotly_chart(length_histogram(lengths, height=180), key="text-lengths")
    note_col.markdown(f"**Text lengths**: median {int(np.median(lengths)) if len(lengths) else 0} words, longest "
                      f"{int(lengths.max()) if len(lengths) else 0:,}.")
    note_col.caption(f"MiniLM reads about the first {LONG_TEXT_WORDS} words of a text (256 word pieces), MPNet about "
                     "290: the rest of a longer text does not count in its cluster"
                     + (f" ({long_texts:,} of these texts are longer)." if long_texts else ".")
                     + " Empty texts cluster together.")

st.subheader("Columns")
st.caption("Roles decide what is clustered: numeric/categorical columns for tables, the text column for texts. "
           "A label column is never used for clustering, only to score the result. Set one role for many columns "
           "at once here, or change them one by one in the table below.")
with st.form("bulk-roles", border=False):
    columns_col, role_col, button_col = st.columns([4, 2, 1], vertical_alignment="bottom")
    chosen = columns_col.multiselect("Columns", [str(column) for column in data.frame.columns],
                                     placeholder="Pick several columns…", key="bulk-columns")
    role = role_col.selectbox("Role", list(ROLES), key="bulk-role")
    if button_col.form_submit_button("Set role", icon=":material/done_all:"):
        if not chosen:
            st.warning("Pick the columns to change first.", icon=":material/info:")
        else:
            by_name = {str(column): column for column in data.frame.columns}
            try:
                save_dataset(data.with_role([by_name[name] for name in chosen], role))
                st.rerun()
            except ClusterLensError as error:
                st.error(f"{error} The previous roles are kept.", icon=":material/error:")
with st.form("roles"):
    kind = st.radio("Treat the data as", ["table", "text"], index=["table", "text"].index(data.kind), horizontal=True)
    editor = pd.DataFrame({
        "column": [str(column) for column in data.frame.columns],
        "role": [data.roles.get(column, "ignore") for column in data.frame.columns],
        "type": [str(data.frame[column].dtype) for column in data.frame.columns],
        "example": [str(data.frame[column].dropna().iloc[0])[:60] if data.frame[column].notna().any() else ""
                    for column in data.frame.columns],
    })
    edited = st.data_editor(
        editor, hide_index=True, width="stretch", disabled=["column", "type", "example"],
        column_config={"role": st.column_config.SelectboxColumn("role", options=list(ROLES), required=True)},
    )
    if st.form_submit_button("Apply roles"):
        overrides = dict(zip(data.frame.columns, edited["role"]))
        try:
            save_dataset(data.with_roles(overrides, kind=kind))
            st.success("Roles updated.")
            st.rerun()
        except ClusterLensError as error:
            st.error(f"{error} The previous roles are kept.", icon=":material/error:")

st.page_link("pages/run.py", label="Next: choose a method and run", icon=":material/play_circle:")
