"""The built-in CLI commands, registered like any plugin's (``register_commands``)."""
from __future__ import annotations

import importlib

from benchbed.contracts.hookspecs import hookimpl


@hookimpl
def register_commands(subparsers):
    from benchbed.cli import COMMAND_MODULES

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
