"""Flax networks of the search spaces, to time on a device (`latpred.apps.timing`), and their
parameter and FLOPs counts (`layers.count`, `flops`)."""

from latpred.data import tables
from latpred.networks import fbnet, nb201


def build(space: str, arch, resolution: str = ""):
  """(flax network, image shape (H, W, 3)) of an architecture of a space.

  Args:
    space: 'nb201' (the CIFAR network; `resolution` must be '' or 'cifar100') or 'fbnet'.
    arch: an NB201 cell string or op names; FBNet op ids, op names or an '_'-joined id string.
    resolution: FBNet: 'imagenet' (default, 224x224) or 'cifar100' (32x32).
  """
  tables.check_space(space)
  if space == "nb201":
    if resolution not in ("", "cifar100"):
      raise ValueError(f"the NB201 network is the CIFAR one (32x32); resolution {resolution!r} "
                       "is not available")
    return nb201.network(arch), (nb201.INPUT_SIZE, nb201.INPUT_SIZE, 3)
  model = fbnet.network(arch, resolution or "imagenet")
  size = fbnet.RESOLUTIONS[model.resolution].input_size
  return model, (size, size, 3)
