"""ClusterLLM (arXiv 2305.14871): triplet answers fine-tune the embedder, pair answers choose k."""
from core.methods.clusterllm.estimator import ClusterLLM
from core.methods.clusterllm.method import ClusterLLMMethod, label_agreement
from core.methods.clusterllm.settings import ClusterLLMParams, ClusterLLMSettings

__all__ = ["ClusterLLM", "ClusterLLMMethod", "ClusterLLMParams", "ClusterLLMSettings", "label_agreement"]
