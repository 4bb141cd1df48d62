"""latpred: few-shot latency prediction of neural architectures on hardware devices."""

__version__ = "0.1.0"
