"""Pure maths, one module per concern, mirroring :mod:`benchbed.builtin` (torchmetrics' ``functional/`` habit):
functions of tensors and arrays, no plugins, no I/O."""
