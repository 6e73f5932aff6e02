"""CACTUS (arXiv 2405.00988): a context-aware encoder that learns how a team clusters small groups of entities."""
from core.methods.cactus.estimator import (CACTUS, EncoderBaseline, GroupPrediction, predict_groups, scores_by_group,
                                           summarize, train_models)
from core.methods.cactus.method import CACTUSMethod, load_run_models, load_run_report
from core.methods.cactus.settings import CACTUSParams, CACTUSSettings

__all__ = ["CACTUS", "CACTUSMethod", "CACTUSParams", "CACTUSSettings", "EncoderBaseline", "GroupPrediction",
           "load_run_models", "load_run_report", "predict_groups", "scores_by_group", "summarize", "train_models"]
