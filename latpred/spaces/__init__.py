"""Search spaces: architectures as graphs, their FLOPs and parameter counts."""

from latpred.spaces.space import GRAPH_VARIANTS, SearchSpace, canonical, load_space

__all__ = ["GRAPH_VARIANTS", "SearchSpace", "canonical", "load_space"]
