"""Shared fixtures: the real measured data (LATPRED_DATA_DIR, default ../shared/data).

Tests run with jax_numpy_rank_promotion='raise' (silent broadcasting between arrays of different
rank is an error), with the repository root importable (`from configs import nasflat`), and
without latpred's compilation cache (LATPRED_COMPILATION_CACHE=off, inherited by the launchers
that tests run in subprocesses: nothing written to the user's cache, every compilation counted).

They also run with JAX's `jax_disable_most_optimizations` unless JAX_DISABLE_MOST_OPTIMIZATIONS
is set (0 runs them on optimized programs, as users do): the suite is bound by XLA compiling many
small programs, which this makes about a quarter faster (2-core Intel Xeon VM, session 16: 740 s
against 1,007 s for the whole suite); every test passes either way. Subprocesses inherit it.
The README's command runs the suite in two pytest-xdist workers (`-n 2 --dist loadfile`), so a
session-scoped fixture is built once per worker that needs it.
"""

import os
import pathlib
import sys

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")  # before jax reads its flags
import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
jax.config.update("jax_numpy_rank_promotion", "raise")
os.environ["LATPRED_COMPILATION_CACHE"] = "off"

_DEFAULT = ROOT.parent / "shared" / "data"


@pytest.fixture
def optimized_xla():
  """XLA's optimizations on for one test whose time goes into running its programs rather than
  compiling them (the supervised baseline's training: 17 s optimized, 36 s without)."""
  before = jax.config.read("jax_disable_most_optimizations")
  jax.config.update("jax_disable_most_optimizations", False)
  yield
  jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
  path = pathlib.Path(os.environ.get("LATPRED_DATA_DIR") or _DEFAULT).resolve()
  if not (path / "help").is_dir():
    pytest.fail(f"measured data not found at {path}: set LATPRED_DATA_DIR to the directory "
                "that holds help/ and nasflat/")
  return path


def _smoke_config(data_dir, **data):
  from configs import nasflat
  config = nasflat.get_config("smoke")
  config.data.data_dir = str(data_dir)
  for key, value in data.items():
    config.data[key] = value
  return config


@pytest.fixture(scope="session")
def smoke_config(data_dir):
  """make(**data): configs/nasflat.py:smoke reading the test data, config.data fields set from
  `data` (e.g. space='nb201', train_hw='pixel3,gold_6226')."""
  return lambda **data: _smoke_config(data_dir, **data)


SMOKE_TRAIN_HW = ("pixel3", "gold_6226", "1080ti_32")


@pytest.fixture(scope="session")
def smoke_pretrained(data_dir, tmp_path_factory) -> pathlib.Path:
  """A small NB201 checkpoint (configs/nasflat.py:smoke) pretrained on SMOKE_TRAIN_HW."""
  from latpred.protocol import runner
  config = _smoke_config(data_dir, space="nb201", train_hw=",".join(SMOKE_TRAIN_HW))
  path = tmp_path_factory.mktemp("smoke_pretrained")
  members = runner.pretrain(config, path)
  assert len(members) == config.pretrain.ensemble_size
  return path


@pytest.fixture(scope="session")
def tiny_nb201(data_dir):
  """(space, table, model, supp, params): a tiny predictor on NB201 with a random encoding."""
  from latpred.data import load_latency_table
  from latpred.model.predictor import Predictor
  from latpred.spaces import graphs, load_space
  space = load_space("nb201", data_dir)
  table = load_latency_table("nb201", data_dir)
  model = Predictor(num_node_types=len(space.node_types), num_hw=table.num_hw, width=16,
                    op_dim=8, head_dims=(16,), supp_dims=(8,), dropout=0.0)
  supp = np.random.default_rng(0).random((space.num_archs, 3)).astype(np.float32)
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  params = model.init({"params": jax.random.PRNGKey(0)}, g, 0, supp[:5])
  return space, table, model, supp, params


_COMPILE_COUNTERS = []  # lists receiving one entry per XLA compilation while active


def _on_event(name, *_, **__):
  if name == "/jax/core/compile/backend_compile_duration":
    for counter in _COMPILE_COUNTERS:
      counter.append(name)


@pytest.fixture
def count_compiles():
  """count_compiles() -> a context manager yielding a list that gets one entry per XLA
  compilation inside it (one listener for the whole session: JAX cannot remove one)."""
  import contextlib
  from jax import monitoring
  if not getattr(_on_event, "registered", False):
    monitoring.register_event_duration_secs_listener(_on_event)
    _on_event.registered = True

  @contextlib.contextmanager
  def counting():
    compiles = []
    _COMPILE_COUNTERS.append(compiles)
    try:
      yield compiles
    finally:
      _COMPILE_COUNTERS.remove(compiles)

  return counting


@pytest.fixture
def compiled_functions():
  """compiled_functions() -> a context manager yielding a list that gets the name of every
  function XLA compiles inside it (e.g. 'jit(train_epoch)'), from JAX's compile log."""
  import contextlib
  import logging
  import re

  class Names(logging.Handler):
    def __init__(self, names):
      super().__init__()
      self.names = names

    def emit(self, record):
      found = re.match(r"Finished XLA compilation of (\S+)", record.getMessage())
      if found:
        self.names.append(found.group(1))

  @contextlib.contextmanager
  def naming():
    names = []
    handler, logger = Names(names), logging.getLogger("jax")
    logger.addHandler(handler)
    try:
      with jax.log_compiles(True):
        yield names
    finally:
      logger.removeHandler(handler)

  return naming
