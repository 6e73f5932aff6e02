"""Curation: names for clusters, a person's edits as an event log with undo, learning from those edits, and
assigning new rows to a run's current clusters.

    curation = Curation(run_dir)                 # the run's clusters as the person left them
    curation.current()                           # labels, clusters (id, name, description, size, examples), version
    curation.apply(Merge((3, 7))); curation.undo(); curation.redo()
    named_labels_csv(curation), html_map(curation)
    assign_rows(curation, new_frame)             # row, cluster, name, confidence, new + the input's columns
    retrain_run(curation, new_run_dir)           # "retrain from my edits"
"""
from core.curation.assign import assign_rows
from core.curation.edits import (Edit, EditError, EditLog, EditRecord, MarkOutliers, Merge, Move, Recut, Rename,
                                 Split, match_ids)
from core.curation.export import html_map, named_labels_csv, named_labels_frame
from core.curation.llm_names import LLMNamer, NamerChoice, estimate_naming
from core.curation.names import ClusterName, KeywordNamer, Namer, NamingRequest, ProfileNamer, distinct_names
from core.curation.retrain import retrain_run
from core.curation.session import ClusterView, Curation, CurrentClusters, RecutPreview

__all__ = ["assign_rows", "Edit", "EditError", "EditLog", "EditRecord", "MarkOutliers", "Merge", "Move", "Recut",
           "Rename", "Split", "match_ids", "html_map", "named_labels_csv", "named_labels_frame", "ClusterName",
           "KeywordNamer", "Namer", "NamingRequest", "ProfileNamer", "distinct_names", "retrain_run", "ClusterView",
           "Curation", "CurrentClusters", "RecutPreview",
           "LLMNamer", "NamerChoice", "estimate_naming"]
