"""A project as one file: its data sets, its finished runs, and their judges' answers, edits and names, in a zip
that another ClusterLens imports as a new project.

The archive holds `manifest.json` (what it is, the runs' catalogue rows and their SQLite rows), `project/` (the
project folder's files) and `runs/<id>/` (each finished run's folder, checkpoints aside). Import never trusts the
archive: names are checked against what an export writes, sizes are checked before anything is extracted, and
every run gets a new id, so importing the same file twice gives two independent projects.
"""
from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path, PurePosixPath
from typing import IO, Any

from core.curation import EditLog
from core.curation.names import NameCache
from core.curation.session import run_key
from core.errors import ClusterLensError
from core.llm.store import JudgmentStore
from core.runs.disk import CHECKPOINT_FOLDERS
from core.runs.estimates import EstimateLog
from core.runs.store import RunRecord, RunStore
from core.sqlite import connect
from core.storage import STATUS, atomic_write_bytes
from core.workspace import SLOTS, STATE_FILE, Workspace, Workspaces

FORMAT = "clusterlens-project"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_IMPORT_MB = 4096
"""Default cap on an archive's unpacked size (CLUSTERLENS_MAX_IMPORT_MB changes it): fine-tuned models are big."""
PROJECT_FILES = frozenset({"project.json", STATE_FILE} | {f"data-{slot}.{ext}" for slot in SLOTS
                                                           for ext in ("json", "parquet")})
"""The project folder's files an export writes, and the only ones an import accepts."""
RUN_KEYED = (("judgments", "id"), ("curation_edits", "path"), ("curation_names", "path"))
"""The catalogue tables with rows per run, and whether they know a run by its folder's name or its folder's path."""
SKIPPED_RUN_FILES = frozenset({STATUS})
"""Run files not carried: the catalogue writes a fresh status for the imported run."""


class ProjectArchiveError(ClusterLensError):
    """A file that is not a ClusterLens project archive, or one too big or malformed to import."""


def export_project(workspace: Workspace, store: RunStore, destination: str | Path | IO[bytes]) -> list[str]:
    """Write `workspace` with its finished runs to a zip at `destination`; returns notes on what was left out."""
    records = sorted((record for record in store.list(workspace.id, limit=100_000) if record.status == "done"),
                     key=lambda record: record.created)  # parents before the runs retrained from them
    skipped = [record.id for record in store.list(workspace.id, limit=100_000) if record.status != "done"]
    manifest: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "name": workspace.name,
                                "exported": time.time(), "runs": []}
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(workspace.folder.path.iterdir()):
            if path.name in PROJECT_FILES:
                archive.write(path, f"project/{path.name}")
        for record in records:
            manifest["runs"].append({**_record_fields(record), "rows": _rows_of(store.db_path, record)})
            for path in _run_files(record.path):
                archive.write(path, f"runs/{record.id}/{path.relative_to(record.path).as_posix()}")
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False))
    return [f"{len(skipped)} unfinished run(s) were left out: {', '.join(skipped)}."] if skipped else []


def import_project(source: str | Path | IO[bytes], workspaces: Workspaces, store: RunStore) -> Workspace:
    """A new project made from an archive written by `export_project`, with new ids for it and its runs."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise ProjectArchiveError(f"This is not a ClusterLens project file (a .zip from “Export project”): "
                                  f"{error}.") from error
    with archive:
        manifest = _checked_manifest(archive)
        workspace = workspaces.create(str(manifest.get("name") or "Imported project"))
        try:
            for name in archive.namelist():
                if name.startswith("project/"):
                    atomic_write_bytes(workspace.folder.file(PurePosixPath(name).name), archive.read(name))
            new_ids = _import_runs(archive, manifest["runs"], workspace.id, store)
            state = workspace.state()
            workspace.set_state(current_run=new_ids.get(state.get("current_run") or ""))
        except BaseException:
            for record in store.list(workspace.id, limit=100_000):
                store.delete(record.id)
            workspaces.delete(workspace.id)
            raise
    return workspace


def delete_project(project_id: str, workspaces: Workspaces, store: RunStore) -> None:
    """Delete a project with everything it made: its runs' folders and catalogue rows, the judges' answers and the
    person's reviews, edits, names and duration records of those runs, and its data sets."""
    _ensure_tables(store.db_path)
    for record in store.list(project_id, limit=100_000):
        with closing(connect(store.db_path)) as db, db:
            for table, by in RUN_KEYED:
                db.execute(f"DELETE FROM {table} WHERE run = ?", (_key(record, by),))
            db.execute("DELETE FROM run_estimates WHERE run = ?", (record.id,))
        store.delete(record.id)
    workspaces.delete(project_id)


def _import_runs(archive: zipfile.ZipFile, runs: list[dict[str, Any]], owner: str,
                 store: RunStore) -> dict[str, str]:
    """Register each run anew, unpack its folder and copy its SQLite rows; returns {old id: new id}."""
    new_ids: dict[str, str] = {}
    for entry in runs:
        record = store.create(owner=owner, method=entry["method"], dataset=entry["dataset"], kind=entry["kind"],
                              parent=new_ids.get(entry.get("parent") or ""))
        new_ids[entry["id"]] = record.id
        prefix = f"runs/{entry['id']}/"
        for name in archive.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = record.path / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as packed, target.open("wb") as unpacked:
                    while chunk := packed.read(1 << 20):
                        unpacked.write(chunk)
        _insert_rows(store.db_path, record, entry.get("rows", {}))
        store.update(record.id, status="done", stage=entry.get("stage") or "done", progress=1.0,
                     message=entry.get("message") or "Imported", summary=entry.get("summary") or {})
    return new_ids


def _checked_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The archive's manifest, once every member's name and the unpacked size are what an export writes."""
    limit = int(os.environ.get("CLUSTERLENS_MAX_IMPORT_MB", MAX_IMPORT_MB)) * 1024 * 1024
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > limit:
        raise ProjectArchiveError(f"This project file unpacks to {unpacked / 1e6:,.0f} MB, more than this server "
                                  f"accepts ({limit / 1e6:,.0f} MB). Export the project without its largest runs, "
                                  "or ask the operator to raise CLUSTERLENS_MAX_IMPORT_MB.")
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError) as error:
        raise ProjectArchiveError("This zip has no readable manifest.json: it is not a ClusterLens project "
                                  "file.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("runs"),
                                                                                           list):
        raise ProjectArchiveError("This zip is not a ClusterLens project file (its manifest says otherwise).")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise ProjectArchiveError("This project file comes from a newer ClusterLens; update this one to import it.")
    for run in manifest["runs"]:
        if not isinstance(run, dict) or not all(isinstance(run.get(key), str) for key in ("id", "method", "dataset",
                                                                                          "kind")):
            raise ProjectArchiveError("This project file's list of runs is malformed; it was not imported.")
    run_ids = {run["id"] for run in manifest["runs"]}
    for name in archive.namelist():
        if not _allowed(PurePosixPath(name), run_ids):
            raise ProjectArchiveError(f"This project file holds an unexpected entry ({name[:80]!r}); it was not "
                                      "imported.")
    return manifest


def _allowed(name: PurePosixPath, run_ids: set[str]) -> bool:
    """An archive member an export writes: the manifest, a project file, or a file inside a listed run's folder."""
    if name.is_absolute() or ".." in name.parts or "\\" in str(name):
        return False
    if str(name) == MANIFEST:
        return True
    if len(name.parts) == 2 and name.parts[0] == "project":
        return name.parts[1] in PROJECT_FILES
    return len(name.parts) >= 3 and name.parts[0] == "runs" and name.parts[1] in run_ids


def _record_fields(record: RunRecord) -> dict[str, Any]:
    return {"id": record.id, "method": record.method, "dataset": record.dataset, "kind": record.kind,
            "parent": record.parent, "created": record.created, "stage": record.stage, "message": record.message,
            "summary": record.summary}


def _run_files(folder: Path) -> Iterable[Path]:
    """A run folder's files to carry: everything but its checkpoints (resume needs them, a finished run does not)."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in CHECKPOINT_FOLDERS and path.name not in SKIPPED_RUN_FILES:
            yield path


def _key(record: RunRecord, by: str) -> str:
    return record.path.name if by == "id" else run_key(record.path)


def _rows_of(db_path: Path, record: RunRecord) -> dict[str, list[dict[str, Any]]]:
    """The run's rows in each run-keyed table (their own ids aside)."""
    _ensure_tables(db_path)
    rows: dict[str, list[dict[str, Any]]] = {}
    with closing(connect(db_path)) as db:
        for table, by in RUN_KEYED:
            found = db.execute(f"SELECT * FROM {table} WHERE run = ?", (_key(record, by),)).fetchall()
            rows[table] = [{k: v for k, v in dict(row).items() if k not in ("id", "run")} for row in found]
    return rows


def _insert_rows(db_path: Path, record: RunRecord, rows: dict[str, Any]) -> None:
    """Copy an imported run's rows into the catalogue under its new key; only columns the table has are taken."""
    _ensure_tables(db_path)
    with closing(connect(db_path)) as db, db:
        for table, by in RUN_KEYED:
            columns = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")} - {"id", "run"}
            for row in rows.get(table, []):
                if not isinstance(row, dict):
                    raise ProjectArchiveError(f"This project file's {table} rows are malformed.")
                names = [column for column in row if column in columns]
                db.execute(f"INSERT OR REPLACE INTO {table} (run, {', '.join(names)}) "
                           f"VALUES (?, {', '.join('?' * len(names))})",
                           (_key(record, by), *(row[name] for name in names)))


def _ensure_tables(db_path: Path) -> None:
    """Create the run-keyed tables when this catalogue has never held them."""
    JudgmentStore(db_path)
    EditLog(db_path)
    NameCache(db_path)
    EstimateLog(db_path)
