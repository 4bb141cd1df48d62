"""From op ids to architecture indices inside `jax.jit`: an exact, sort-based lookup.

An architecture is a row of S op ids (NB201: 6 edges, FBNet: 22 layers), each below `num_ops`.
`OpIndex` finds the row of a space's table that equals each queried row, in O(B log A) with
`jnp.searchsorted`, without host code. Rows are cut into chunks of base-`num_ops` digits that fit
int32; the chunks are folded left to right, each time replacing the prefix seen so far by its rank
among the table's distinct prefixes (below A), so every key stays below 2**31 (no 64-bit ints).
"""

import math

import jax.numpy as jnp
import numpy as np

_INT32_MAX = 2 ** 31 - 1


def _chunks(num_slots: int, num_ops: int, num_rows: int) -> list[tuple[int, int]]:
  """(start, stop) slot ranges whose keys, after a prefix rank below num_rows, fit int32."""
  digits = max(1, int(math.log(_INT32_MAX / (num_rows + 1)) / math.log(num_ops)))
  return [(i, min(i + digits, num_slots)) for i in range(0, num_slots, digits)]


def _chunk_key(ops, start: int, stop: int, num_ops: int, xp):
  powers = xp.asarray([num_ops ** k for k in range(stop - start)], dtype=xp.int32)
  return (ops[:, start:stop].astype(xp.int32) * powers[None, :]).sum(axis=1).astype(xp.int32)


class OpIndex:
  """Jittable lookup of op-id rows in a fixed table of rows (`lookup`)."""

  def __init__(self, op_ids_AxS: np.ndarray, num_ops: int):
    rows = np.asarray(op_ids_AxS, np.int64)
    if rows.ndim != 2 or not len(rows):
      raise ValueError(f"need a non-empty [A, S] table of op ids, got shape {rows.shape}")
    if rows.min() < 0 or rows.max() >= num_ops:
      raise ValueError(f"op ids must lie in 0..{num_ops - 1}")
    self.num_ops, self.num_slots = num_ops, rows.shape[1]
    self.chunks = _chunks(self.num_slots, num_ops, len(rows))
    self.levels = []  # sorted distinct keys after each chunk (int32)
    key = None
    for start, stop in self.chunks:
      part = _chunk_key(rows, start, stop, num_ops, np).astype(np.int64)
      if key is not None:
        key = np.searchsorted(self.levels[-1], key) * num_ops ** (stop - start) + part
      else:
        key = part
      if key.max() > _INT32_MAX:
        raise AssertionError("OpIndex key overflow")  # excluded by _chunks
      self.levels.append(np.unique(key).astype(np.int32))
    last, first = np.unique(key, return_index=True)
    if len(last) != len(rows):
      raise ValueError("the table of op ids has repeated rows")
    self.index_of_last = first.astype(np.int32)  # arch index of each final key, in key order
    self._levels_j = [jnp.asarray(v) for v in self.levels]
    self._index_j = jnp.asarray(self.index_of_last)

  def lookup(self, ops_BxS):
    """(index int32 [B], found bool [B]) of each queried row; index is 0 where not found.

    Rows with an op id outside 0..num_ops-1 are not found. Jittable."""
    ops = jnp.asarray(ops_BxS)
    if ops.ndim != 2 or ops.shape[1] != self.num_slots:
      raise ValueError(f"need op ids [B, {self.num_slots}], got shape {ops.shape}")
    found = jnp.all((ops >= 0) & (ops < self.num_ops), axis=1)
    ops = jnp.clip(ops, 0, self.num_ops - 1)
    rank = None
    for (start, stop), level in zip(self.chunks, self._levels_j):
      key = _chunk_key(ops, start, stop, self.num_ops, jnp)
      if rank is not None:
        key = rank * self.num_ops ** (stop - start) + key
      rank = jnp.clip(jnp.searchsorted(level, key), 0, len(level) - 1).astype(jnp.int32)
      found = found & (level[rank] == key)
    return jnp.where(found, self._index_j[rank], 0), found
