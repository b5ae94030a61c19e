"""benchbed plugin: the CIFAR-10 ResNet-18 example checkpoint shipped inside pyautoattack."""

__version__ = "0.1.0"
