"""Methods: one package each (estimator, objective, settings, bench entry), registered here by one line each.

A method never imports another method; what they share lives below them in core (embed, train, cluster, llm).
"""
from core.methods.base import Method, Representation, RunContext
from core.methods.baseline import Baseline
from core.methods.cactus import CACTUSMethod
from core.methods.clusterllm import ClusterLLMMethod
from core.methods.erasmo import ERASMOMethod
from core.methods.registry import METHODS, get_method, method_settings, methods_for, register

register(Baseline())
register(ClusterLLMMethod())
register(ERASMOMethod())
register(CACTUSMethod())

__all__ = ["METHODS", "Method", "Representation", "RunContext", "get_method", "method_settings", "methods_for",
           "register"]
