"""benchbed plugin: RobustBench's model zoo (CIFAR-10 Linf/L2, CIFAR-100 Linf) as benchbed models."""

__version__ = "0.1.0"
