"""The ``benchbed`` command. Sub-commands are plugins (``register_commands``): the built-in ones live
in this package, one module each with ``add_parser(sub)``, registered by :mod:`benchbed.builtin.commands`."""
from __future__ import annotations

import argparse
import sys

from benchbed.contracts.errors import BenchbedError

COMMAND_MODULES = (
    "benchbed.cli.listing",
    "benchbed.cli.run",
    "benchbed.cli.results",
    "benchbed.cli.compare_models",
    "benchbed.cli.leaderboard",
    "benchbed.cli.sample",
    "benchbed.cli.studies",
)


def _plugin_files(argv: list[str]) -> list[str]:
    """The ``--plugin FILE`` options, read before the parser exists (plugin files may add commands)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    return known.plugin


def build_parser(host=None) -> argparse.ArgumentParser:
    from benchbed import registry as plugin_registry
    from benchbed._version import __version__

    host = host or plugin_registry.host()
    parser = argparse.ArgumentParser(
        prog="benchbed",
        description="Benchmark robust image classifiers as energy-based models: clean and robust accuracy "
                    "(AutoAttack), energy alignment, and the quality of images sampled from the classifier.")
    parser.add_argument("--version", action="version", version=f"benchbed {__version__}")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE", help=PLUGIN_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    host.pm.hook.register_commands(subparsers=sub)
    _accept_plugin_option(parser)
    return parser


PLUGIN_HELP = ("also load a local plugin file (repeatable; before or after the command, e.g. "
               "`benchbed run --plugin my_model.py`); see BENCHBED_PLUGIN_FILES")


def _accept_plugin_option(parser: argparse.ArgumentParser) -> None:
    """Every command (and sub-command) accepts ``--plugin FILE`` too: the files are read from the whole
    command line before parsing (:func:`_plugin_files`), wherever the option stands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if "--plugin" not in command._option_string_actions:
                    command.add_argument("--plugin", action="append", metavar="FILE", default=argparse.SUPPRESS,
                                         help=PLUGIN_HELP)
                _accept_plugin_option(command)


def _one_line_warnings(show):
    """Python's warning display prints the warning's source line under it; benchbed's own warnings
    (a damaged or foreign result file ...) are one line each on the command line."""
    from benchbed.results.store import ResultFileWarning

    def display(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ResultFileWarning):
            print(f"benchbed: warning: {message}", file=file or sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)
    return display


def main(argv: list[str] | None = None) -> int:
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        return _main(argv)


def _main(argv: list[str]) -> int:
    try:
        from benchbed import registry as plugin_registry
        for path in _plugin_files(argv):
            plugin_registry.host().load_file(path)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except BenchbedError as exc:
        print(f"benchbed: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchbed: interrupted; finished results are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `benchbed models | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def warn_broken_plugins(registry) -> None:
    for problem in registry.problems:
        print(f"benchbed: warning: {problem}", file=sys.stderr)
    from benchbed import registry as plugin_registry
    for info in plugin_registry.host().infos.values():
        if info.error and not any(info.name in p for p in registry.problems):
            print(f"benchbed: warning: plugin {info.name!r} ({info.distribution}) failed to load: {info.error}",
                  file=sys.stderr)


def model_and_track(model: str, track: str):
    """The registered model and track a one-model command works on (with broken plugins reported),
    refusing a model of another dataset in one line."""
    from benchbed import registry as plugin_registry
    from benchbed.contracts.errors import ConfigError

    registry = plugin_registry.registry()
    warn_broken_plugins(registry)
    track_spec = registry.tracks.get(track)
    model_spec = registry.models.get(model)
    if model_spec.dataset != track_spec.dataset:
        raise ConfigError(f"model {model!r} is a {model_spec.dataset} model but track {track_spec.name!r} uses "
                          f"{track_spec.dataset}: pick a {model_spec.dataset} track (see `benchbed tracks`)")
    return registry, model_spec, track_spec
