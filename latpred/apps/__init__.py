"""Applications of an adapted predictor: latency-constrained search, HELP's NB201 NAS protocol and
the new-device workflow."""
