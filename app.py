"""ClusterLens: the router. Pages live in pages/; every action goes through the core library."""
import streamlit as st

from pages.common import current_dataset, current_run_id, my_run, share_secret_keys, workspace_id

st.set_page_config(page_title="ClusterLens", page_icon=":material/scatter_plot:", layout="wide")
workspace_id()
share_secret_keys()

navigation = st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/table_view:", default=True),
    st.Page("pages/run.py", title="Run", icon=":material/play_circle:"),
    st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("pages/review.py", title="Review", icon=":material/rule:"),
    st.Page("pages/granularity.py", title="Granularity", icon=":material/account_tree:"),
    st.Page("pages/cactus.py", title="CACTUS (groups)", icon=":material/workspaces:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
])

with st.sidebar:
    st.markdown("### ClusterLens")
    status = st.empty()


def show_status() -> None:
    """The current data set and run, written after the page ran so they include what it just changed."""
    data = current_dataset()
    run = my_run(current_run_id())
    status.caption((f"Data: **{data.name}** ({data.kind}, {len(data.frame):,} rows)" if data else "Data: none yet")
                   + "  \n" + (f"Run: **{run.id}** ({run.method}, {run.status})" if run else "Run: none yet"))


try:
    navigation.run()
finally:
    show_status()
