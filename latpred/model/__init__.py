"""The NASFLAT predictor: its layers, the model, and how it is built and initialised from
config.model."""
