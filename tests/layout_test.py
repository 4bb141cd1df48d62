"""The package layout: each folder a role, imports only downward, modules small, the public
surface importable from `latpred`."""

import ast
import pathlib

import pytest

import latpred

PACKAGE = pathlib.Path(latpred.__file__).resolve().parent
# Lower ranks may be imported by higher ones, never the reverse (equal ranks: same role).
RANK = {"data": 0, "metrics": 0, "spaces": 1, "model": 2, "networks": 2, "train": 3, "adapt": 4,
        "predict": 5, "baselines": 6, "protocol": 7, "apps": 8}
MAX_LINES = 400


def _role(module: str):
  """'latpred.adapt.transfer' -> 'adapt'; None for the package itself and non-latpred names."""
  parts = module.split(".")
  if parts[0] != "latpred" or len(parts) < 2 or parts[1] == "__version__":
    return None
  return parts[1]


def _imports(path: pathlib.Path):
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      if node.module == "latpred":
        yield from (f"latpred.{alias.name}" for alias in node.names)
      else:
        yield node.module


def _modules():
  return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_role():
  for path in _modules():
    role = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    assert role in RANK, f"{path}: no role; put it in one of {sorted(RANK)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_downward_and_modules_stay_small(path):
  role = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
  for name in _imports(path):
    target = _role(name)
    if target is not None:
      assert RANK[target] <= RANK[role], f"{path.name} ({role}) imports {name} ({target})"
    if role == "data":
      assert name.split(".")[0] not in ("jax", "jaxlib", "flax", "optax", "jraph"), (
          f"{path.name}: the data layer reads files without JAX")
  lines = len(path.read_text().splitlines())
  assert lines <= MAX_LINES, f"{path.name}: {lines} lines (split it; at most {MAX_LINES})"


def test_public_surface():
  from latpred.predict import LatencyPredictor
  from latpred.protocol.tasks import get_task
  assert latpred.LatencyPredictor is LatencyPredictor and latpred.get_task is get_task
  assert callable(latpred.load_space) and callable(latpred.load_latency_table)
  assert latpred.get_task("FD").space == "fbnet"
  with pytest.raises(AttributeError):
    latpred.nothing_here  # noqa: B018
