"""Hook specifications: one ``register_*`` hook per plugin kind (:data:`benchbed.contracts.kinds.KINDS`),
plus ``register_commands``.

A plugin is a module (or object) with functions named after these hooks, marked with
:data:`hookimpl`; benchbed finds it through the entry-point group ``benchbed``, a ``--plugin FILE``,
or its built-in list (built-ins register exactly like everyone else). Each ``register_*`` hook is
called once with a ``register`` callback and calls it once per object it provides::

    from benchbed.plugin import ModelSpec, hookimpl

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="my-model", ...))

``register`` checks the object's type (a ``register_models`` hook can only register a
:class:`~benchbed.contracts.specs.ModelSpec`) and its name (:func:`benchbed.contracts.specs.check_name`); a plugin whose
hook raises, or that registers something invalid, is marked broken and contributes nothing at all.
"""
from __future__ import annotations

import pluggy

from benchbed.contracts.kinds import KIND_NAMES, PluginKind
from benchbed.contracts.kinds import KINDS as _KINDS

PROJECT = "benchbed"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


def _register_hook(plugin_kind: PluginKind):
    """The hook specification of one plugin kind: ``register_<kind>(register)``, documented from KINDS."""

    def hook(register):
        pass

    hook.__name__ = hook.__qualname__ = plugin_kind.hook_name
    hook.__doc__ = (f"Register ``{plugin_kind.spec_type.__name__}`` objects (benchbed.contracts.specs): "
                    f"{plugin_kind.doc}.")
    return hookspec(hook)


for _kind in _KINDS:  # one register_<kind> hook per plugin kind, all from the one list
    globals()[_kind.hook_name] = _register_hook(_kind)
del _kind


@hookspec
def register_commands(subparsers):
    """Add sub-commands to the ``benchbed`` CLI: ``subparsers`` is argparse's sub-parser action. Set
    ``func=callable(args) -> int`` as the parser's default (``p.set_defaults(func=...)``)."""


KINDS = KIND_NAMES  # the register hooks, by plugin kind (names; benchbed.contracts.kinds.KINDS has the details)
