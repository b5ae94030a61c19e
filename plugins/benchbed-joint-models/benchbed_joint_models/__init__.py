"""benchbed plugin: the joint discriminative-generative models' released CIFAR-10 checkpoints (JEM, DAT)."""
