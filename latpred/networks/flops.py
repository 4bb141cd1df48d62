"""FLOPs of a traced network under the counting convention of each space's reference table.

Both tables count a multiply-accumulate as one FLOP (convolutions: k*k*Cin/groups per output
element; dense layers: in*out), batch norm as 2 per element and a ReLU as 1 per element, and
leave additions (cell sums, residuals), channel shuffles and the 'none' op's zeros out. They
differ in:

- NB201 (`latpred.spaces.nb201`, a torchstat-style counter): average pools k*k per output element;
  the global average pool over 8x8 costs (8+1)^2 = 81 per channel (the counter's kernel rule).
- FBNet (the NASFLAT proxy file's `flops`, a thop-style module counter): the two ReLUs of a block
  are one shared module in the reference code whose count the counter overwrote on each call, so
  only the ReLU after the depthwise convolution is counted (records tagged `shared_relu_first`
  are dropped); the global average pool costs H*W per channel (its input elements).

Checked (tests/networks/flops_test.py): every cell's NB201 FLOPs equal `space.mflops_A`; on the
'cifar100' FBNet network every (layer, op) FLOPs and parameter count equals the per-layer costs
`latpred.spaces.fbnet.layer_costs` derives from the proxy file, and the fixed part too.
"""

import collections
import math

from latpred.networks.layers import Cost

CONVENTIONS = ("nb201", "fbnet")


NO_FLOPS = ("add", "shuffle", "zero")  # recorded for their kernel launches; counted by neither


def _nb201(cost: Cost) -> int:
  if cost.kind in NO_FLOPS:
    return 0
  if cost.kind == "bn":
    return 2 * cost.count
  if cost.kind == "global_pool":
    return cost.count // cost.fan_in * (math.isqrt(cost.fan_in) + 1) ** 2
  return cost.count


def _fbnet(cost: Cost) -> int:
  if cost.kind in NO_FLOPS:
    return 0
  if cost.kind == "bn":
    return 2 * cost.count
  if cost.tag == "shared_relu_first":
    return 0
  return cost.count


def _rule(convention: str):
  if convention not in CONVENTIONS:
    raise ValueError(f"unknown FLOPs convention {convention!r}; valid: {', '.join(CONVENTIONS)}")
  return _nb201 if convention == "nb201" else _fbnet


def total(costs: list[Cost], convention: str) -> int:
  """FLOPs of a network from its cost records (`layers.count`)."""
  rule = _rule(convention)
  return sum(rule(c) for c in costs)


def per_layer(costs: list[Cost], convention: str) -> dict[str, int]:
  """FLOPs per top-level submodule name ('' for the network's own layers)."""
  rule = _rule(convention)
  out = collections.defaultdict(int)
  for c in costs:
    out[c.layer] += rule(c)
  return dict(out)
