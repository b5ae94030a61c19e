"""The leaderboard knows no built-in plugin by name: what it draws, explains and words comes from the specs'
declarations (benchbed.leaderboard.presentation), so an outside plugin is presented like a built-in one.

Checked on the code's string literals (docstrings and comments are prose, left out) and on the templates'
quoted strings, attribute/key lookups and file names. A plugin name that is also a field of the track or
record schema (the study "eps" and a track's ``eps``, the study "generation" and a track's ``generation``
settings) is the schema's word there and is not checked."""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from benchbed.contracts.specs import TrackSpec
from benchbed.registry import PluginHost
from benchbed.results.record import Record

LEADERBOARD = Path(__file__).resolve().parents[2] / "benchbed" / "leaderboard"


def builtin_names() -> set[str]:
    reg = PluginHost(load_external=False).registry
    names = {s.name for kind in ("attacks", "metrics", "samplers", "studies") for s in reg.table(kind)}
    for metric in reg.metrics:
        for column in metric.columns:
            names.update(column.reduce.inputs if column.reduce is not None else ())
        for plot in metric.figures:
            names.update(n for s in plot.series for n in (s.array, s.minus) if n)
    schema = {f.name for cls in (TrackSpec, Record) for f in dataclasses.fields(cls)}
    return names - schema


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def _token(name: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")


def offences(names: set[str], root: Path = LEADERBOARD) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        where = path.relative_to(root)
        found += [f"{where}: file named after {n!r}" for n in names if _token(n).search(path.stem)]
        if path.suffix == ".py":
            for line, text in _literals(path):
                found += [f"{where}:{line}: string {text!r} names {n!r}" for n in names
                          if text == n or (any(c in n for c in "_-") and _token(n).search(text))]
        elif path.suffix == ".j2":
            for n in names:
                code = rf"""(['"]{re.escape(n)}['"]|\.{re.escape(n)}\b|\[{re.escape(n)}\])"""
                found += [f"{where}: template code names {n!r}" for _ in re.finditer(code, path.read_text())]
    return found


def test_the_leaderboard_names_no_builtin_plugin():
    names = builtin_names()
    assert {"autoattack", "energy", "generative", "sgld", "attacks", "dynamics", "energy_nat"} <= names  # it bites
    assert offences(names) == []


@pytest.mark.parametrize("planted", ['KEY = "energy_adv_untargeted"\n', 'if attack == "autoattack":\n    pass\n',
                                     'prefix = f"{x}robust_accuracy"\n'])
def test_the_check_finds_a_planted_name(tmp_path, planted):
    (tmp_path / "planted.py").write_text(planted)
    (tmp_path / "ok.py").write_text('"""prose may say energy or autoattack"""\nLABEL = "energy units"\n')
    found = offences(builtin_names(), tmp_path)
    assert found and all(f.startswith("planted.py") for f in found)
