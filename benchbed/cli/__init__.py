"""The ``benchbed`` command. Each sub-command lives in its own module with ``add_parser(sub)``."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import BenchbedError

COMMAND_MODULES = (
    "benchbed.cli.listing",
    "benchbed.cli.run",
    "benchbed.cli.results",
    "benchbed.cli.leaderboard",
    "benchbed.cli.sample",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="benchbed",
        description="Benchmark robust image classifiers as energy-based models: clean and robust accuracy "
                    "(AutoAttack), energy alignment, and the quality of images sampled from the classifier.")
    parser.add_argument("--version", action="version", version=f"benchbed {__version__}")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE",
                        help="also load a local plugin file (repeatable); see BENCHBED_PLUGIN_FILES")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        if args.plugin:
            from .. import plugins

            for path in args.plugin:
                plugins.host().load_file(path)
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
    from .. import plugins

    for info in plugins.host().infos.values():
        if info.error and not any(info.name in p for p in registry.problems):
            print(f"benchbed: warning: plugin {info.name!r} ({info.distribution}) failed to load: {info.error}",
                  file=sys.stderr)
