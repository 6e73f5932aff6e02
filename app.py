"""ClusterLens: the router. Pages live in pages/; every action goes through the core library."""
import streamlit as st

from pages.common import (current_dataset, current_run_id, my_run, project_id, share_secret_keys, sign_in, signed_in,
                          warm_up, workspace)

st.set_page_config(page_title="ClusterLens", page_icon=":material/scatter_plot:", layout="wide")
share_secret_keys()
if not signed_in():
    st.navigation([st.Page(sign_in, title="Sign in", icon=":material/lock:")], position="hidden").run()
    st.stop()
warm_up()
opened = project_id()

navigation = st.navigation({
    "": [st.Page("pages/projects.py", title="Projects", icon=":material/home:", default=opened is None)],
    "Project": [
        st.Page("pages/data.py", title="Data", icon=":material/table_view:", default=opened is not None),
        st.Page("pages/run.py", title="Run", icon=":material/play_circle:"),
        st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
        st.Page("pages/review.py", title="Review", icon=":material/rule:"),
        st.Page("pages/granularity.py", title="Granularity", icon=":material/account_tree:"),
        st.Page("pages/cactus.py", title="CACTUS (groups)", icon=":material/workspaces:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ],
})

with st.sidebar:
    status = st.empty()


def show_status() -> None:
    """The project, its data set and current run, written after the page ran so they include what it changed."""
    if project_id() is None:
        status.caption("No project open.")
        return
    data = current_dataset()
    run = my_run(current_run_id())
    status.caption(f"Project: **{workspace().name}**  \n"
                   + (f"Data: **{data.name}** ({data.kind}, {len(data.frame):,} rows)" if data else "Data: none yet")
                   + "  \n" + (f"Run: **{run.id}** ({run.method}, {run.status})" if run else "Run: none yet"))


try:
    navigation.run()
finally:
    show_status()
