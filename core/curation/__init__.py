"""Curation: names for clusters, a person's edits as an event log with undo, learning from those edits, and
assigning new rows to a run's current clusters."""
from core.curation.edits import (Edit, EditError, EditLog, EditRecord, MarkOutliers, Merge, Move, Recut, Rename,
                                 Split, match_ids)
from core.curation.names import ClusterName, KeywordNamer, Namer, NamingRequest, ProfileNamer, distinct_names
from core.curation.session import ClusterView, Curation, CurrentClusters, RecutPreview

__all__ = ["Edit", "EditError", "EditLog", "EditRecord", "MarkOutliers", "Merge", "Move", "Recut", "Rename", "Split",
           "match_ids", "ClusterName", "KeywordNamer", "Namer", "NamingRequest", "ProfileNamer", "distinct_names",
           "ClusterView", "Curation", "CurrentClusters", "RecutPreview"]
