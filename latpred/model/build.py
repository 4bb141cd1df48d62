"""The predictor built from `config.model`, its parameter init, and what a run on one space and
list of training devices shares (space, latency table, encodings, model)."""

import dataclasses
import functools

import jax
import ml_collections
import numpy as np

from latpred.data import LatencyTable, load_latency_table
from latpred.model.predictor import Predictor
from latpred.spaces import SearchSpace, encodings, load_space
from latpred.spaces import graphs as graphs_lib


def encoding_spec(model_config, space: str) -> str:
  """The supplementary encoding for `space`: model.supp_encoding, or the per-space field if
  'auto'."""
  if model_config.supp_encoding != "auto":
    return model_config.supp_encoding
  return model_config[f"supp_encoding_{space}"]


def build_model(model_config, space: SearchSpace, num_hw: int) -> Predictor:
  m = model_config
  return Predictor(num_node_types=len(space.node_types), num_hw=num_hw, op_dim=m.op_dim,
                   hw_dim=m.hw_dim, hw_placement=m.hw_placement, layer_type=m.layer_type,
                   first_pass_layers=m.first_pass_layers, main_layers=m.main_layers,
                   width=m.width, additive_readout=m.additive_readout, dropout=m.dropout,
                   node_features=m.node_features, linear_cost=m.linear_cost,
                   node_physics=m.get("node_physics", False))  # (absent before session 11)


def hw_rows(config, num_hw: int) -> int:
  """Rows of the hardware table: the space's `num_hw` devices, then
  `config.pretrain.synthetic_devices` synthetic ones (latpred.train.synthetic)."""
  return num_hw + config.pretrain.get("synthetic_devices", 0)


@functools.partial(jax.jit, static_argnums=0)
def _init(model: Predictor, seed, graphs, supp):
  key = jax.random.PRNGKey(seed)
  return model.init({"params": key, "dropout": key}, graphs, 0, supp)


def init_params(model: Predictor, space: SearchSpace, supp_AxD: np.ndarray, seed: int):
  """Fresh parameters of `model` (one graph traced; shapes do not depend on the batch). Jitted:
  one compilation per model, where flax's eager init compiled every op apart (about 300 MB of
  memory for the FBNet model on CPU)."""
  g = graphs_lib.batch(space.graph_set, np.arange(1), 1)
  s = np.zeros((2, supp_AxD.shape[1]), np.float32) if supp_AxD.shape[1] else None
  return _init(model, np.uint32(seed), g, s)


def sampler_encoding(space: SearchSpace, supp_AxD: np.ndarray) -> np.ndarray:
  """What the encoding-based samplers cluster: the supplementary encoding, or FLOPs/params
  where the config has none."""
  return supp_AxD if supp_AxD.shape[1] else encodings.encoding(space, "flops_params")


@dataclasses.dataclass(frozen=True)
class Setup:
  """What pretraining, transfer and the baselines on one space and training devices share."""

  config: ml_collections.ConfigDict
  space: SearchSpace
  table: LatencyTable
  supp: np.ndarray  # the supplementary encoding [A, D]
  sampler_enc: np.ndarray  # what the encoding-based samplers cluster
  train_ids: np.ndarray
  model: Predictor
  encoding: str  # the encoding spec of `supp`

  @property
  def data_dir(self):
    return self.config.data.data_dir or None

  def sample_kwargs(self, hw_id=None) -> dict:
    return dict(mflops=self.space.mflops_A, mparams=self.space.mparams_A,
                encoding=self.sampler_enc,
                latency=None if hw_id is None else self.table.latency_ms_HxA[hw_id])


def make_setup(config, space_name: str, train_hw) -> Setup:
  """Loads the space and table, builds the encodings and the model (config.data, config.model)."""
  data_dir = config.data.data_dir or None
  space = load_space(space_name, data_dir, config.data.graph_variant)
  table = load_latency_table(space_name, data_dir)
  spec = encoding_spec(config.model, space_name)
  supp = encodings.encoding(space, spec, data_dir)
  model = build_model(config.model, space, hw_rows(config, table.num_hw))
  return Setup(config, space, table, supp, sampler_encoding(space, supp),
               table.hw_indices(train_hw), model, spec)
