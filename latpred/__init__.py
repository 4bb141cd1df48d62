"""latpred: few-shot latency prediction of neural architectures on hardware devices.

The public surface, imported on first use (so that `import latpred.data` loads no JAX):

  from latpred import LatencyPredictor, load_space, load_latency_table, get_task
  from latpred import enable_compilation_cache   # compiled programs kept on disk (call first)

The package reads as the pipeline, each folder a role, imports only downward:
data (no JAX), metrics -> spaces -> model -> train -> adapt -> predict -> baselines -> protocol
-> apps.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "LatencyPredictor": "latpred.predict",
    "load_space": "latpred.spaces",
    "load_latency_table": "latpred.data",
    "get_task": "latpred.protocol.tasks",
    "enable_compilation_cache": "latpred.protocol.launch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    return getattr(importlib.import_module(_EXPORTS[name]), name)
  raise AttributeError(f"module 'latpred' has no attribute {name!r}")
