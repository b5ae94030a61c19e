"""The contracts between benchbed and its plugins: typed specs, declared reductions, errors, hook specs, events,
checkpoint helpers. Imports nothing else of benchbed; re-exported to plugin authors by :mod:`benchbed.plugin`."""
