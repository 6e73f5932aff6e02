"""ERASMO (arXiv 2410.03738): a causal LM fine-tuned on table rows written as text; its states are clustered."""
from core.methods.erasmo.estimator import ERASMO
from core.methods.erasmo.method import CHECKPOINT_FOLDER, ERASMOMethod, approximate_tokens, estimate_seconds
from core.methods.erasmo.settings import ERASMOParams, ERASMOSettings

__all__ = ["CHECKPOINT_FOLDER", "ERASMO", "ERASMOMethod", "ERASMOParams", "ERASMOSettings", "approximate_tokens",
           "estimate_seconds"]
