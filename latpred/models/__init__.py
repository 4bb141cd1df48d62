"""Latency predictors: GNN layers and the NASFLAT predictor."""
