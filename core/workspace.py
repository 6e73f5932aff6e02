"""Projects: what an analyst keeps between visits (a name, the data sets, the run being looked at), one folder each.

A project's runs are the catalogue's runs owned by its id; its files live in `<home>/workspaces/<id>/`, each written
atomically. A damaged file reads as missing, with a note saying what to do, so one bad write never locks a person
out of every page. Pages hold only a project id; everything else is read from here.
"""
from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.dataset import Dataset
from core.errors import ClusterLensError
from core.storage import Folder

PROJECT_ID = re.compile(r"^[a-f0-9]{32}$")
PROJECT_FILE = "project.json"
STATE_FILE = "state.json"
SLOTS = ("main", "groups")
"""A project's data sets: the main one (runs, Explore), and CACTUS's groups table (its own page)."""
UNTITLED = "Untitled project"


class ProjectNotFoundError(ClusterLensError):
    """A project id that is malformed or names no project here."""


@dataclass(frozen=True)
class ProjectInfo:
    """One line of the project list."""

    id: str
    name: str
    created: float
    updated: float
    dataset: str | None
    rows: int | None
    kind: str | None


class Workspace:
    """One project's folder: its name, data sets by slot, and the run the analyst is looking at."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Folder(folder)
        self.notes: list[str] = []

    @property
    def id(self) -> str:
        return self.folder.path.name

    @property
    def name(self) -> str:
        return str(self._meta().get("name") or UNTITLED)

    def rename(self, name: str) -> None:
        name = " ".join(name.split())
        if not name:
            raise ClusterLensError("A project needs a name: type a few words.")
        self._write_meta(name=name[:120])

    def dataset(self, slot: str = "main") -> Dataset | None:
        """The project's data set in `slot`, or None when there is none (or its files are damaged: see `notes`)."""
        _check_slot(slot)
        meta = self._read(f"data-{slot}.json")
        if not meta or not self.folder.exists(f"data-{slot}.parquet"):
            return None
        try:
            frame = self.folder.load_frame(f"data-{slot}.parquet")
            return Dataset(frame=frame, kind=meta["kind"], roles=meta["roles"], name=meta["name"],
                           source=meta.get("source", ""), notes=tuple(meta.get("notes", ())))
        except Exception:  # pyarrow and pandas raise many types for a damaged file; all mean "unreadable"
            self.notes.append(f"The saved {slot} data set could not be read (its file is damaged). Load it again; "
                              "your runs are not affected.")
            return None

    def save_dataset(self, data: Dataset, slot: str = "main") -> None:
        """Make `data` the project's data set in `slot` (the parquet first, then its description)."""
        _check_slot(slot)
        self.folder.save_frame(f"data-{slot}.parquet", data.frame)
        version = int((self._read(f"data-{slot}.json") or {}).get("version", 0)) + 1
        self.folder.write_json(f"data-{slot}.json", {
            "kind": data.kind, "roles": data.roles, "name": data.name, "source": data.source,
            "notes": list(data.notes), "rows": len(data.frame), "version": version})
        self._write_meta()

    def data_version(self, slot: str = "main") -> int:
        """A number that changes whenever the data set in `slot` is replaced (for caches keyed by it)."""
        return int((self._read(f"data-{slot}.json") or {}).get("version", 0))

    @property
    def current_run(self) -> str | None:
        return self.state().get("current_run")

    def set_current_run(self, run_id: str | None) -> None:
        self.set_state(current_run=run_id)

    def state(self) -> dict[str, Any]:
        """Small page state kept with the project (the current run, choices that should survive a reload)."""
        return self._read(STATE_FILE) or {}

    def set_state(self, **values: Any) -> None:
        self.folder.write_json(STATE_FILE, {**self.state(), **values})
        self._write_meta()

    def info(self) -> ProjectInfo:
        meta, data = self._meta(), self._read("data-main.json") or {}
        return ProjectInfo(self.id, self.name, float(meta.get("created", 0.0)), float(meta.get("updated", 0.0)),
                           data.get("name"), data.get("rows"), data.get("kind"))

    def _meta(self) -> dict[str, Any]:
        return self._read(PROJECT_FILE) or {}

    def _write_meta(self, **changes: Any) -> None:
        now = time.time()
        meta = {"name": UNTITLED, "created": now, **self._meta(), **changes, "updated": now}
        self.folder.write_json(PROJECT_FILE, meta)

    def _read(self, name: str) -> dict[str, Any] | None:
        """A JSON file of the project, None when absent; a damaged one is noted and read as absent."""
        try:
            value = self.folder.read_json(name)
        except (ValueError, OSError):
            self.notes.append(f"A project file ({name}) is damaged and was ignored; what it held must be set "
                              "again.")
            return None
        return value if isinstance(value, dict) else None


class Workspaces:
    """The projects under one ClusterLens home: create, open, list and delete them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def create(self, name: str = UNTITLED) -> Workspace:
        workspace = self.open(uuid.uuid4().hex, create=True)
        workspace.rename(name or UNTITLED)
        return workspace

    def open(self, project_id: str, *, create: bool = False) -> Workspace:
        """The project with this id; with `create`, a new empty one under that id when there is none."""
        if not PROJECT_ID.match(project_id or ""):
            raise ProjectNotFoundError("This link does not name a project. Pick one from the project list.")
        folder = self.root / project_id
        if not folder.is_dir():
            if not create:
                raise ProjectNotFoundError("No project with this id here. Pick one from the project list.")
            folder.mkdir(parents=True)
        return Workspace(folder)

    def exists(self, project_id: str) -> bool:
        return bool(PROJECT_ID.match(project_id or "")) and (self.root / project_id).is_dir()

    def list(self) -> list[ProjectInfo]:
        """Every project, most recently changed first (folders without a project file are older workspaces)."""
        if not self.root.is_dir():
            return []
        found = [Workspace(folder).info() for folder in self.root.iterdir()
                 if folder.is_dir() and PROJECT_ID.match(folder.name)]
        return sorted(found, key=lambda info: -info.updated)

    def delete(self, project_id: str) -> None:
        shutil.rmtree(self.open(project_id).folder.path, ignore_errors=True)


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ValueError(f"Unknown data slot {slot!r}; use one of {SLOTS}.")
