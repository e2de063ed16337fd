"""Models: descriptor + fitting -> energy, force, virial; the graph names they use."""
