"""Projects: what ClusterLens does, the path through it, and the analyst's projects to open, rename or start."""
import io

import pandas as pd
import streamlit as st

from core.errors import ClusterLensError
from core.projects import delete_project, export_project, import_project
from pages.common import PATH_STEPS, open_project, project_id, run_store, workspaces

st.title("ClusterLens")
st.markdown("Group a table or a set of texts into clusters you can **name, correct and reuse**. A language model, "
            "or you, judges which rows belong together, and the model learns from those answers.")
st.markdown("  \n".join(f"**{number}. {title}**: {text}" for number, (title, text) in enumerate(PATH_STEPS, 1)))



def project_file(project: str) -> bytes:
    """The project as one zip (made when the download is asked for, not on every rerun)."""
    buffer = io.BytesIO()
    export_project(workspaces().open(project), run_store(), buffer)
    return buffer.getvalue()


st.subheader("New project")
with st.form("new-project", clear_on_submit=True, border=False):
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name = name_col.text_input("Project name", placeholder="e.g. Support tickets, March")
    if button_col.form_submit_button("Create project", type="primary", icon=":material/add:"):
        created = workspaces().create(name.strip() or "Untitled project")
        open_project(created.id, "pages/data.py")

with st.expander("Import a project file", icon=":material/upload_file:"):
    st.caption("A .zip made by “Export project” on this or another ClusterLens: its data, finished runs, reviews and "
               "edits become a new project here.")
    archive = st.file_uploader("Project file", type=["zip"], key="project-archive")
    if archive is not None and st.button("Import", key="import-project", icon=":material/upload:"):
        try:
            imported = import_project(archive, workspaces(), run_store())
            open_project(imported.id, "pages/data.py")
        except ClusterLensError as error:
            st.error(str(error), icon=":material/error:")

st.subheader("Your projects")
projects = workspaces().list()
if not projects:
    st.info("No project yet: create one above, then load a file or a sample.", icon=":material/info:")
    st.stop()
runs = run_store().list(limit=10_000)
counts = pd.Series([record.owner for record in runs]).value_counts() if runs else pd.Series(dtype=int)
current = project_id()
for info in projects:
    with st.container(border=True, key=f"project-{info.id}"):
        text_col, open_col, more_col = st.columns([6, 1, 1], vertical_alignment="center")
        data_line = (f"{info.dataset} · {info.rows:,} rows · {info.kind}" if info.dataset else "no data yet")
        marker = " · *open in this tab*" if info.id == current else ""
        text_col.markdown(f"**{info.name}**{marker}  \n{data_line} · {int(counts.get(info.id, 0))} run(s) · changed "
                          f"{pd.Timestamp(info.updated, unit='s').strftime('%Y-%m-%d %H:%M')}")
        if open_col.button("Open", key=f"open-{info.id}", icon=":material/folder_open:"):
            open_project(info.id, "pages/data.py")
        with more_col.popover("More", icon=":material/more_horiz:"):
            new_name = st.text_input("Rename to", value=info.name, key=f"name-{info.id}")
            if st.button("Rename", key=f"rename-{info.id}"):
                try:
                    workspaces().open(info.id).rename(new_name)
                    st.rerun()
                except ClusterLensError as error:
                    st.error(str(error), icon=":material/error:")
            st.download_button("Export project (.zip)", lambda project=info.id: project_file(project),
                               file_name=f"{info.name[:60]}.clusterlens.zip", mime="application/zip",
                               key=f"export-{info.id}", on_click="ignore", icon=":material/download:")
            st.divider()
            active = [r for r in runs if r.owner == info.id and not r.finished]
            if active:
                st.caption(f"{len(active)} run(s) of this project are queued or running: cancel them on the Run "
                           "page before deleting it.")
            sure = st.checkbox("Delete this project, its data and its runs", key=f"sure-{info.id}",
                               disabled=bool(active))
            if st.button("Delete", key=f"delete-{info.id}", disabled=not sure or bool(active), type="primary"):
                delete_project(info.id, workspaces(), run_store())
                st.rerun()
