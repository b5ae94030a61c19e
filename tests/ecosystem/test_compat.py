"""0.1 plugins on 0.3: deprecated imports resolve with a warning; a 0.1 plugin and its port give the same numbers."""
from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import benchbed
from benchbed.contracts.errors import ConfigError
from benchbed.registry import PluginHost

FIXTURES = Path(__file__).resolve().parent / "fixtures"
N = 24


def load_fixture(folder: str, package: str):
    """Import a fixture plugin package as 0.1's guide installed it (a package with relative imports)."""
    sys.path.insert(0, str(FIXTURES / folder))
    try:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
        return importlib.import_module(f"{package}.plugin")
    finally:
        sys.path.remove(str(FIXTURES / folder))


def registry_of(module, name):
    host = PluginHost(load_external=False)
    host.register(module, name=name)
    return host.registry


def test_top_level_0_1_names_warn_and_name_the_new_import():
    for name in ("ModelSpec", "TrackSpec", "AttackSpec", "hookimpl", "Column", "DatasetSpec", "SamplerSpec"):
        with pytest.warns(DeprecationWarning, match=rf"from benchbed\.plugin import {name}'") as caught:
            value = getattr(benchbed, name)
        assert value is getattr(benchbed.plugin, name)
        assert len(caught) == 1
    with pytest.raises(AttributeError, match="no attribute 'NotAName'"):
        benchbed.NotAName  # noqa: B018


def test_from_import_warns_once_at_the_importing_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec("from benchbed import ModelSpec", {"__name__": "someone"})  # noqa: S102
    assert [str(w.message).split(" is ")[0] for w in caught] == ["'from benchbed import ModelSpec'"]
    assert caught[0].filename == "<string>"


@pytest.mark.parametrize("old,new,attr", [
    ("benchbed.specs", "benchbed.contracts.specs", "TrackSpec"),
    ("benchbed.checkpoints", "benchbed.contracts.checkpoints", "load_state_dict"),
    ("benchbed.provenance", "benchbed.results.provenance", "sha256_file"),
    ("benchbed.datasets", "benchbed.builtin.dataset_loaders", "load_digits_split"),
    ("benchbed.errors", "benchbed.contracts.errors", "BenchbedError"),
    ("benchbed.executors.base", "benchbed.engine.executors.base", "Executor"),
])
def test_old_module_paths_resolve_with_a_warning(old, new, attr):
    for name in [m for m in sys.modules if m == "benchbed." + old.split(".")[1] or m.startswith(old)]:
        del sys.modules[name]  # the old package too: importing a submodule imports (and warns for) its parent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    said = [(str(w.message), w.filename) for w in caught if w.category is DeprecationWarning]
    assert any(f"module {old} is deprecated" in m and f"use {new}" in m for m, _ in said), said
    assert all(f == __file__ for _, f in said)  # pointing at the line that imported it
    assert getattr(module, attr) is getattr(importlib.import_module(new), attr)


def test_a_0_1_metric_without_merge_is_refused_with_the_migration_pointer():
    from benchbed.compat.metric_v01 import MetricSpec
    from benchbed.plugin import Column

    with pytest.raises(ConfigError, match="written for benchbed 0.1.*CHANGELOG.md, 'Migrating from 0.1'"):
        MetricSpec(name="m", columns=(Column("m", "m"),), compute=lambda ctx: {"m": 1.0})


def test_the_0_1_plugin_loads_with_warnings_and_gives_its_ports_numbers():
    with pytest.warns(DeprecationWarning) as caught:
        legacy = load_fixture("legacy_v01", "legacy_digits")
        legacy_registry = registry_of(legacy, "legacy-digits")
    said = " ".join(str(w.message) for w in caught)
    for name in ("ModelSpec", "TrackSpec", "MetricSpec", "MetricResult", "hookimpl"):
        assert f"'from benchbed import {name}'" in said
    assert not legacy_registry.problems
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the port needs no deprecated name
        ported = load_fixture("ported_v03", "ported_digits")
        ported_registry = registry_of(ported, "ported-digits")
    assert not ported_registry.problems

    def run(registry):
        return benchbed.evaluate("tiny-linear", track="legacy-digits", n_examples=N, device="cpu",
                                 progress=False, threads=1, registry=registry)

    old, new = run(legacy_registry), run(ported_registry)
    # counts are identical; the port's mean() averages in float64 where 0.1's merge used np.mean of float32
    # arrays: the same number to float32 precision (CHANGELOG.md says so)
    assert old["clean_accuracy"] == new["clean_accuracy"] and old["robust_accuracy"] == new["robust_accuracy"]
    assert old.metrics == pytest.approx(new.metrics, rel=1e-6)
    assert set(old.metrics) == {"clean_accuracy", "robust_accuracy", "mean_margin", "mean_adv_margin"}
    for key in ("margin", "adv_margin"):
        np.testing.assert_array_equal(old.arrays[key], new.arrays[key])

    # independently: the margin from the checkpoint with plain torch
    from benchbed.plugin import dataset_split

    points = dataset_split("digits", "test")
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    net.load_state_dict(torch.load(FIXTURES / "tiny_linear.pt", weights_only=True))
    with torch.no_grad():
        logits = net(points.images[:N]).double()
    labels = points.labels[:N]
    true = logits[torch.arange(N), labels]
    others = logits.clone()
    others[torch.arange(N), labels] = -np.inf
    assert old["mean_margin"] == pytest.approx(float((true - others.max(1).values).mean()), rel=1e-5)
    assert old["clean_accuracy"] == pytest.approx(100.0 * float((logits.argmax(1) == labels).double().mean()))


def _imports(path: Path) -> set[tuple[str, str]]:
    """(module, name) of every ``from benchbed... import name`` in a file."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchbed"):
            found.update((node.module, alias.name) for alias in node.names)
    return found


def _migration_rows(title: str) -> list[tuple[str, str]]:
    text = (Path(__file__).resolve().parents[2] / "CHANGELOG.md").read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ", 1) for line in section.splitlines() if line.startswith("| `")]
    return [(old, new) for old, new in rows]


def test_the_changelog_table_is_what_the_port_needed():
    rows = _migration_rows("Migrating from 0.1")
    old_column = " ".join(old for old, _ in rows)
    new_column = " ".join(new for _, new in rows)
    legacy = _imports(FIXTURES / "legacy_v01/legacy_digits/plugin.py")
    ported = _imports(FIXTURES / "ported_v03/ported_digits/plugin.py")
    for module, name in legacy - ported:  # every import the port changed is a row of the table ...
        assert f"from {module} import" in old_column, (module, name)
        assert name in old_column or module == "benchbed", (module, name)
    for module, name in ported - legacy:  # ... and its replacement is in the new column
        same_name = name in rows[0][0] and "(same names)" in rows[0][1]  # 0.1's top-level names
        assert module == "benchbed.plugin" and (name in new_column or same_name), (module, name)
    legacy_text = (FIXTURES / "legacy_v01/legacy_digits/plugin.py").read_text()
    for old_use, new_use in (("MetricResult(", "MetricOutput("), ("merge=", "reduce="),
                             ("needs_attack=True", 'requires=("attack",)')):
        assert old_use in legacy_text
        assert any(old_use in old and new_use in new for old, new in rows), old_use


@pytest.mark.slow
def test_the_0_1_plugin_gives_on_0_3_the_numbers_0_1_itself_gives(tmp_path):
    """The reference is 0.1's own code (its source from this repository's history, at the last 0.1 commit)."""
    import json
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    last_0_1 = "bb88c82"
    archive = subprocess.run(["git", "-C", str(repo), "archive", last_0_1, "benchbed"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip("this checkout has no git history of 0.1")
    old_source = tmp_path / "benchbed-0.1"
    old_source.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old_source)], input=archive.stdout, check=True)
    script = FIXTURES / "evaluate_legacy.py"

    def numbers(pythonpath: str) -> dict:
        env = {**os.environ, "PYTHONPATH": pythonpath, "BENCHBED_PLUGINS": "", "BENCHBED_CACHE": str(tmp_path / "c")}
        out = subprocess.run([sys.executable, str(script), str(N)], env=env, capture_output=True, text=True,
                             timeout=600, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    on_0_1 = numbers(str(old_source))
    on_now = numbers(str(repo))
    assert on_0_1 == on_now  # to the last digit
    assert set(on_0_1) == {"clean_accuracy", "robust_accuracy", "mean_margin", "mean_adv_margin"}
