"""Training: the ranking loss, the vmapped jitted step, the loops and checkpoints."""
