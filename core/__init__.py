"""ClusterLens library: intake, embedding, clustering, scoring and runs, with no Streamlit import."""
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.errors import ClusterLensError, IntakeError, ModelUnavailableError, SettingsError  # noqa: E402

__all__ = ["ClusterLensError", "IntakeError", "ModelUnavailableError", "SettingsError"]
