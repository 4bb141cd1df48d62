"""Baseline methods: training-free ranks and fits, BRP-NAS-style and ceiling GNNs, HELP and
MultiPredict."""
