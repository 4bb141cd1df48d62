"""A search space with its data: architecture names, graphs, FLOPs and parameter counts."""

import dataclasses
import functools
from typing import Sequence, Union

import numpy as np

from latpred.data import sources, tables
from latpred.spaces import fbnet, nb201, physics
from latpred.spaces import graphs as graphs_lib

GRAPH_VARIANTS = {"nb201": ("full", "pruned"), "fbnet": fbnet.VARIANTS}
DEFAULT_VARIANT = {"nb201": "full", "fbnet": "chain"}

Arch = Union[str, Sequence[str], Sequence[int]]


def canonical(space: str, arch: Arch) -> str:
  """The name the data and CSV files use for an architecture of `space`, measured or not (NB201
  cell string; FBNet '_'-joined op ids), validated; no data needed."""
  tables.check_space(space)
  if space == "nb201":
    return nb201.to_string(nb201.parse(arch) if isinstance(arch, str) else tuple(arch))
  return fbnet.to_string(fbnet.parse(arch))


@dataclasses.dataclass(frozen=True, eq=False)
class SearchSpace:
  """Every architecture of a space, indexed as in the latency files. Key: A archs."""

  name: str
  graph_variant: str
  arch_names: tuple[str, ...]  # NB201 cell strings; FBNet '_'-joined op ids
  node_types: tuple[str, ...]  # vocabulary of GraphSet.node_types_AxN
  graph_set: graphs_lib.GraphSet
  mflops_A: np.ndarray  # float64, MFLOPs
  mparams_A: np.ndarray  # float64, millions of parameters
  disconnected_A: np.ndarray  # bool: output not connected to input (NB201 only; FBNet: none)

  @property
  def num_archs(self) -> int:
    return len(self.arch_names)

  @functools.cached_property
  def _index(self) -> dict[str, int]:
    return {name: i for i, name in enumerate(self.arch_names)}

  def canonical(self, arch: Arch) -> str:
    """The canonical name of an architecture given as a string or an op list (validated)."""
    return canonical(self.name, arch)

  def index_of(self, arch: Arch) -> int:
    """Architecture index of a string or op list; raises ValueError if malformed or absent."""
    name = self.canonical(arch)
    try:
      return self._index[name]
    except KeyError:
      raise ValueError(f"{self.name} architecture {name!r} is well formed but not among the "
                       f"{self.num_archs} measured architectures") from None

  def indices_of(self, archs: Sequence[Arch]) -> np.ndarray:
    return np.array([self.index_of(a) for a in archs], dtype=np.int64)

  @property
  def ops(self) -> tuple[str, ...]:
    """The ops one slot can hold (NB201: per edge, FBNet: per layer); `op_ids` index them."""
    return nb201.OPS if self.name == "nb201" else fbnet.OPS

  def _op_row(self, arch: Arch) -> np.ndarray:
    if self.name == "nb201":
      ops = nb201.parse(arch) if isinstance(arch, str) else tuple(arch)
      nb201.to_string(ops)  # validates
      return nb201.op_ids(ops)
    return fbnet.parse(arch)

  def op_ids(self, archs: Sequence[Arch]) -> np.ndarray:
    """int32 [B, S] op ids (into `ops`) of architectures given as strings or op lists, measured
    or not (S: NB201's 6 edges, FBNet's 22 layers). Raises ValueError on a malformed one."""
    rows = [self._op_row(a) for a in archs]
    return np.stack(rows).astype(np.int32) if rows else np.zeros((0, self.num_slots), np.int32)

  def names_of(self, ops_BxS) -> list[str]:
    """Canonical names (as `arch_names`) of op-id rows, measured or not."""
    if self.name == "nb201":
      return [nb201.to_string([nb201.OPS[i] for i in row]) for row in np.asarray(ops_BxS)]
    return [fbnet.to_string(row) for row in np.asarray(ops_BxS)]

  @property
  def num_slots(self) -> int:
    return len(nb201.EDGES) if self.name == "nb201" else fbnet.NUM_LAYERS

  @functools.cached_property
  def op_ids_AxS(self) -> np.ndarray:
    """`op_ids` of every architecture of the space, in index order (read-only)."""
    out = self.op_ids(self.arch_names)
    out.setflags(write=False)
    return out


def node_cost_features(costs_AxNx2: np.ndarray) -> np.ndarray:
  """Per-node (MFLOPs, Mparams) as model features, float32 [A, N, 4]:

  columns 0-1: signed log1p, scaled to [-1, 1] per column (for the GNN);
  columns 2-3: linear, divided by the largest per-architecture total (sums over a graph are the
  architecture's FLOPs / params up to a constant shift, for the additive readout's linear cost).
  """
  logs = np.sign(costs_AxNx2) * np.log1p(np.abs(costs_AxNx2))
  logs = logs / np.maximum(np.abs(logs).max(axis=(0, 1)), 1e-12)
  linear = costs_AxNx2 / np.maximum(np.abs(costs_AxNx2.sum(1)).max(0), 1e-12)
  return np.concatenate([logs, linear], axis=-1).astype(np.float32)


def node_features(costs_AxNx2: np.ndarray, physics_AxNx2: np.ndarray) -> np.ndarray:
  """The graphs' node features, float32 [A, N, 8]: `node_cost_features` of the per-node
  (MFLOPs, Mparams) in columns 0-3, then of the per-node (kernels, activation Melements) of
  `latpred.spaces.physics` in columns 4-7 (the same scalings; read by the predictor with
  `model.node_physics`)."""
  return np.concatenate([node_cost_features(costs_AxNx2), node_cost_features(physics_AxNx2)],
                        axis=-1)


def _check_variant(space: str, variant: str) -> str:
  if variant not in GRAPH_VARIANTS[space]:
    raise ValueError(f"unknown {space} graph variant {variant!r}; valid: "
                     f"{', '.join(GRAPH_VARIANTS[space])}")
  return variant


@functools.lru_cache(maxsize=8)
def _build(space: str, variant: str, root) -> SearchSpace:
  if space == "nb201":
    names = tables.load_nb201_archs(root)
    cells = [nb201.parse(a) for a in names]
    node_costs = np.stack([nb201.node_costs(ops) for ops in cells])
    edges = physics.per_slot("nb201", np.stack([nb201.op_ids(ops) for ops in cells]))
    node_physics = np.pad(edges, ((0, 0), (1, 1), (0, 0)))  # node k + 1 holds edge k
    graph_set = graphs_lib.build_graph_set(
        [nb201.graph(ops, pruned=variant == "pruned") for ops in cells],
        node_features(node_costs, node_physics))
    costs = np.array([nb201.flops_params(ops) for ops in cells])
    node_types = nb201.NODE_TYPES
    disconnected = np.array([nb201.disconnected(c) for c in cells])
  else:
    ops = tables.load_fbnet_archs(root)
    names = tuple(fbnet.to_string(row) for row in ops)
    zcp = tables.load_fbnet_zcp(root)
    costs = np.stack([zcp[:, tables.ZCP_NAMES.index("flops")] / 1e6,
                      zcp[:, tables.ZCP_NAMES.index("params")] / 1e6], axis=1)
    per_layer = fbnet.layer_costs(ops, costs)[np.arange(fbnet.NUM_LAYERS), ops]  # [A, L, 2]
    layer_physics = physics.per_slot("fbnet", ops)  # [A, L, 2]
    if variant == "chain":  # input and output nodes cost 0
      per_layer, layer_physics = (np.pad(x, ((0, 0), (1, 1), (0, 0)))
                                  for x in (per_layer, layer_physics))
    graph_set = graphs_lib.build_graph_set([fbnet.graph(row, variant) for row in ops],
                                           node_features(per_layer, layer_physics))
    node_types = fbnet.NODE_TYPES
    disconnected = np.zeros(len(names), bool)
  mflops, mparams = (np.ascontiguousarray(costs[:, i]) for i in (0, 1))
  for arr in (mflops, mparams, disconnected):
    arr.setflags(write=False)
  return SearchSpace(space, variant, tuple(names), node_types, graph_set, mflops, mparams,
                     disconnected)


def load_space(name: str, data_dir=None, graph_variant: str = "", *,
               download: bool = True) -> SearchSpace:
  """Loads a space ('nb201' or 'fbnet') with the given graph variant (default per space)."""
  tables.check_space(name)
  variant = _check_variant(name, graph_variant or DEFAULT_VARIANT[name])
  root = sources.ensure_files(tables.space_files(name), data_dir, download=download)
  return _build(name, variant, root)
