"""Build the API reference from the docstrings (pdoc) and fail on a broken cross-reference.

Usage: python scripts/build_api_docs.py [OUT]  (default docs/_build/api). Every module of the package is
imported and rendered; every Sphinx-style role in its source (``:class:`X```, ``:func:``, ``:mod:``,
``:meth:``, ``:data:``, ``:attr:``, ``:exc:``) must name something that exists, resolved as pdoc and a
reader would: absolutely, relative to the package (``.name``), in the module's namespace, or on one of
its classes. Exit status 1 lists each broken reference as ``file:line: role target``.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "benchbed"
SKIP = {"benchbed.plugins", "benchbed.__main__"}  # a deprecated alias (it warns on import), the entry script
ROLE = re.compile(r":(class|func|meth|mod|data|attr|exc|obj):`~?([^`<>\s]+)`")


def module_names() -> list[str]:
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}."):
        if info.name not in SKIP and not any(info.name.startswith(s + ".") for s in SKIP):
            names.append(info.name)
    return sorted(names)


def _attribute_chain(obj, parts):
    for part in parts:
        obj = getattr(obj, part)
    return obj


def _absolute(target: str):
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return _attribute_chain(module, parts[cut:])
    raise LookupError(target)


def resolves(target: str, module) -> bool:
    """Whether ``target`` names something, read from ``module``'s docstrings."""
    import builtins

    attempts = []
    if target.startswith("."):
        base = module.__name__ if hasattr(module, "__path__") else module.__package__
        attempts.append(lambda: _absolute(base + target))
    attempts.append(lambda: _absolute(target))
    attempts.append(lambda: _attribute_chain(builtins, target.split(".")))
    head, *rest = target.split(".")
    attempts.append(lambda: _attribute_chain(vars(module)[head], rest))
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    attempts.extend((lambda c=c: _attribute_chain(c, target.split("."))) for c in classes)
    for attempt in attempts:
        try:
            attempt()
            return True
        except (LookupError, AttributeError, ImportError, TypeError):
            continue
    return False


def broken_references(names: list[str]) -> list[str]:
    problems = []
    for name in names:
        module = importlib.import_module(name)
        path = Path(module.__file__)
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for role, target in ROLE.findall(line):
                if not resolves(target, module):
                    problems.append(f"{path.relative_to(ROOT)}:{lineno}: :{role}:`{target}` does not resolve")
    return problems


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "_build" / "api"
    import pdoc
    import pdoc.render

    names = module_names()
    problems = broken_references(names)
    plugin = importlib.import_module("benchbed.plugin")
    for lazy in plugin._LAZY:  # names benchbed.plugin loads on first use: pdoc reads the module's __dict__
        getattr(plugin, lazy)
    pdoc.render.configure(docformat="restructuredtext", footer_text="benchbed API reference")
    top = [n for n in names if n.count(".") <= 1]  # pdoc documents a package's submodules itself
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*top, output_directory=out)
    problems += [f"pdoc: {w.message}" for w in caught if issubclass(w.category, UserWarning)
                 and not issubclass(w.category, DeprecationWarning)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"API reference: {len(problems)} problem(s); fix the docstrings above", file=sys.stderr)
        return 1
    print(f"API reference of {len(names)} modules written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
