"""The baseline: no fine-tuning, no LLM; what an analyst would do without ClusterLens's methods."""
from core.methods.baseline.method import Baseline, BaselineSettings

__all__ = ["Baseline", "BaselineSettings"]
