"""Losses, pure training steps (the vmap over training devices lives here), checkpoints."""
