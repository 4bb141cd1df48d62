"""Golden values (nanodo style): one pretraining step and one fine-tune step of the smoke config
on fixed real data give stored losses. A change that moves them changes what latpred computes:
if it is intended, rerun `pytest tests/train/golden_test.py -s`, check the printed values, paste
them into GOLDEN and say why in the commit."""

import jax
import numpy as np

from latpred.adapt import transfer
from latpred.data import load_latency_table
from latpred.model import build
from latpred.spaces import encodings, graphs, load_space
from latpred.train import steps

from configs import nasflat

# (pretraining step 1, step 2, fine-tune step 1, step 2) losses.
GOLDEN = (0.1273449, 0.1097154, 0.0239331, 0.0336427)
TRAIN_HW, TARGET, ARCHS = ("pixel3", "gold_6226", "1080ti_32"), "fpga", np.arange(0, 4000, 250)


def _losses(data_dir) -> tuple:
  config = nasflat.get_config("smoke")
  space = load_space("nb201", data_dir)
  table = load_latency_table("nb201", data_dir)
  supp = encodings.encoding(space, build.encoding_spec(config.model, "nb201"), data_dir)
  model = build.build_model(config.model, space, table.num_hw)
  params = build.init_params(model, space, supp, seed=0)
  batch = len(ARCHS)
  g = graphs.batch(space.graph_set, ARCHS, batch)
  s = np.zeros((batch + 1, supp.shape[1]), np.float32)
  s[:batch] = supp[ARCHS]
  p, t = config.pretrain, config.transfer

  def two_steps(params, hw_ids, lr, weight_decay, final_lr):
    opt = steps.Optimizer(lr, weight_decay, final_lr)
    params = jax.tree_util.tree_map(lambda x: x.copy(), params)  # the step donates its input
    state, out = opt.init(params), []
    lat = np.zeros((len(hw_ids), batch + 1), np.float32)
    lat[:, :batch] = table.latency_ms_HxA[hw_ids][:, ARCHS]
    for k in range(2):
      params, state, loss = steps.train_step(model, opt, params, state, g, s,
                                             np.asarray(hw_ids, np.int32), lat,
                                             jax.random.PRNGKey(k), np.int32(2))
      out.append(float(loss))
    return out

  train_ids = table.hw_indices(TRAIN_HW)
  pre = two_steps(params, train_ids, p.lr, p.weight_decay, p.final_lr)
  target = table.hw_index(TARGET)
  tuned = transfer.copy_hw_row(params, int(train_ids[0]), target)
  fine = two_steps(tuned, [target], t.lr, t.weight_decay, t.final_lr)
  return tuple(pre + fine)


def test_one_pretraining_and_one_fine_tune_step_match_golden_losses(data_dir):
  got = _losses(data_dir)
  print("GOLDEN =", tuple(round(v, 7) for v in got))
  np.testing.assert_allclose(
      got, GOLDEN, rtol=0, atol=1e-5,
      err_msg="losses moved: if the change is intended, paste the printed GOLDEN (run with -s) "
              "into tests/train/golden_test.py and say why in the commit")
