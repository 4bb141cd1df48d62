"""surrogate_cost: held-out measured networks predicted with table inputs and as if unmeasured."""

import numpy as np
import pytest

from latpred.apps import unmeasured
from latpred.predict import LatencyPredictor


def test_surrogate_cost_scores_both_ways(smoke_pretrained, data_dir):
  predictor = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  row = unmeasured.surrogate_cost(predictor, "fpga", num_samples=8, held_fraction=0.05)
  assert row["held_out"] == int(0.05 * 15625)
  for way in ("measured", "as_unmeasured"):
    assert set(row[way]) == set(unmeasured.METRICS)
    assert np.isfinite(list(row[way].values())).all()
  # NB201's stack reads the training devices' latencies; their surrogate is approximate, so
  # the two ways differ, but both rank the held-out cells
  assert row["measured"] != row["as_unmeasured"]
  assert row["measured"]["spearman"] > 0.5 and row["as_unmeasured"]["spearman"] > 0.5
  assert "| fpga | 8 | 781 |" in unmeasured.markdown([row])
  with pytest.raises(ValueError, match="held_fraction"):
    unmeasured.surrogate_cost(predictor, "fpga", held_fraction=1.0)
