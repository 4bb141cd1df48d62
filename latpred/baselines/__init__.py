"""Baseline methods: training-free ranks and fits, the stack without its GNN, BRP-NAS-style GNN,
HELP, MultiPredict and the supervised upper reference."""
