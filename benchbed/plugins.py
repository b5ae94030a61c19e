"""Deprecated alias of :mod:`benchbed.registry` (renamed in 0.3: it is the plugin registry, not the plugin API).

Kept for one minor version; import :mod:`benchbed.registry` instead (plugins import :mod:`benchbed.plugin`).
"""
import warnings

from benchbed.registry import *  # noqa: F401,F403
from benchbed.registry import host, registry, reset  # noqa: F401

warnings.warn("benchbed.plugins is deprecated since 0.3 and will be removed in 0.4: import benchbed.registry "
              "(plugin authors: benchbed.plugin)", DeprecationWarning, stacklevel=2)
