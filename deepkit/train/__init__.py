"""Training: loss, learning rate, checkpoints, lcurve, the training loop."""
