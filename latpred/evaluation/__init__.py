"""Correlations, the evaluation protocol, result tables and plots."""
