"""Adapting pretrained predictors to a target device: row copy, fine-tuning, ensembles and the
stack."""
