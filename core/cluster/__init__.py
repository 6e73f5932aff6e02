"""Clustering: algorithms behind one estimator, choosing k, UMAP reduction and the cluster tree."""
from core.cluster.algorithms import ALGORITHMS, LINKAGES, Clusterer, choose_k_by_silhouette, cluster
from core.cluster.hierarchy import ClusterTree, MergeStep
from core.cluster.reduce import SampleNeighbours, UMAPReducer, project_2d

__all__ = ["ALGORITHMS", "LINKAGES", "Clusterer", "cluster", "choose_k_by_silhouette", "ClusterTree", "MergeStep",
           "SampleNeighbours", "UMAPReducer", "project_2d"]
