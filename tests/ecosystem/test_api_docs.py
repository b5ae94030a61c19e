"""The API reference builds from the docstrings, and a broken cross-reference fails the build."""
from __future__ import annotations

import importlib.util
import subprocess
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_api_docs.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_api_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_references_resolve_as_a_reader_would_and_broken_ones_do_not():
    build = _builder()
    module = types.ModuleType("benchbed.fake")
    module.__package__ = "benchbed"
    exec("from benchbed.contracts.specs import MetricSpec\nclass Local:\n    def phase(self): pass\n",  # noqa: S102
         module.__dict__)
    module.Local.__module__ = "benchbed.fake"
    for target in ("benchbed.plugin", "benchbed.contracts.specs.TrackSpec.replace", "MetricSpec.columns_for",
                   ".registry.KindTable", "phase", "Local.phase", "DeprecationWarning"):
        assert build.resolves(target, module), target
    for target in ("benchbed.plugin.NoSuchThing", "NoSuchName", ".nosuchmodule", "Local.nope", "benchbed.nomod"):
        assert not build.resolves(target, module), target


def test_a_broken_reference_is_reported_with_its_file_and_line(tmp_path, monkeypatch):
    build = _builder()
    package = tmp_path / "docpkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""Fine: :class:`int`. Broken: :func:`no_such_function`."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert build.broken_references(["docpkg"]) == [
        "docpkg/__init__.py:1: :func:`no_such_function` does not resolve"]


@pytest.mark.slow
def test_the_api_reference_builds_with_every_reference_resolved(tmp_path):
    pytest.importorskip("pdoc", reason="the docs extra: pip install -e '.[docs]'")
    out = subprocess.run(["bash", str(ROOT / "scripts" / "build-api-docs.sh"), str(tmp_path / "api")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    plugin_page = (tmp_path / "api" / "benchbed" / "plugin.html").read_text()
    assert "MetricOutput" in plugin_page and "dataset_split" in plugin_page
    assert (tmp_path / "api" / "benchbed" / "contracts" / "specs.html").is_file()
