"""Registration reports every problem of a plugin at once; a plugin that registers nothing says so."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import benchbed
from benchbed.contracts.specs import MetricSpec, ModelSpec, TrackSpec
from benchbed.registry import PluginHost


def _linear(device):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).to(device)


class ManyProblems:
    """Four independent mistakes in three hooks: a wrong type, a bad name, a raising hook, a name used twice."""

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        spec = ModelSpec(name="twice", dataset="digits", threat_models=("Linf",), architecture="a", recipe="r",
                         loader=_linear)
        register(spec)
        register(spec)
        register(ModelSpec(name="../escape", dataset="digits", threat_models=("Linf",), architecture="a",
                           recipe="r", loader=_linear))

    @benchbed.plugin.hookimpl
    def register_tracks(self, register):
        register(MetricSpec(name="not-a-track", columns=(), compute=lambda ctx: None))

    @benchbed.plugin.hookimpl
    def register_metrics(self, register):
        raise RuntimeError("metric table missing")


def test_every_problem_of_a_plugin_is_reported_at_once():
    host = PluginHost(load_external=False)
    host.register(ManyProblems(), name="many")
    reg = host.registry
    error = host.infos["many"].error
    assert "\n" not in error
    parts = error.split(" | ")
    assert len(parts) == 4, parts
    assert any("invalid name" in p and "../escape" in p for p in parts)
    assert any("registered a MetricSpec, not a TrackSpec" in p for p in parts)
    assert any("register_metrics failed" in p and "metric table missing" in p for p in parts)
    assert any("registers the model name 'twice' twice" in p for p in parts)
    assert "twice" not in reg.models.names()  # a broken plugin contributes nothing
    assert len(reg.problems) == 1


def test_a_plugin_with_several_duplicate_names_lists_them_all():
    class Copies:
        @benchbed.plugin.hookimpl
        def register_tracks(self, register):
            base = TrackSpec(name="x", dataset="digits", norm="Linf", eps=0.1, n_examples=10)
            register(base.replace(name="digits-linf"))
            register(base.replace(name="cifar10-linf"))

    host = PluginHost(load_external=False)
    host.register(Copies(), name="copies")
    host.registry  # noqa: B018
    error = host.infos["copies"].error
    assert "'digits-linf'" in error and "'cifar10-linf'" in error


def _plugins_listing(tmp_path, source: str) -> str:
    path = tmp_path / "f.py"
    path.write_text(textwrap.dedent(source))
    env = {**os.environ, "BENCHBED_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "benchbed", "--plugin", str(path), "plugins"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_plugin_file_without_hooks_is_listed_as_empty(tmp_path):
    out = _plugins_listing(tmp_path, """
        def register_models(register):  # forgot @hookimpl
            pass
    """)
    row = next(line for line in out.splitlines() if line.strip().startswith("file:f.py"))
    assert "EMPTY" in row and " ok " not in row
    assert "empty plugin 'file:f.py'" in out and "defines no benchbed hook" in out


def test_a_plugin_file_whose_hooks_register_nothing_is_listed_as_empty(tmp_path):
    out = _plugins_listing(tmp_path, """
        from benchbed.plugin import hookimpl

        @hookimpl
        def register_models(register):
            models = []
            for spec in models:
                register(spec)
    """)
    assert "EMPTY" in next(line for line in out.splitlines() if line.strip().startswith("file:f.py"))
    assert "its hooks (register_models) ran but never called register(...)" in out
