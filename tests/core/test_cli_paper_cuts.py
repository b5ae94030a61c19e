"""CLI paper cuts of issue 20: --plugin after the command, and batch/block size in `benchbed tracks`."""
from __future__ import annotations

import re
import textwrap

import pytest

from benchbed import registry as plugin_registry
from benchbed.cli import main

PLUGIN = '''
from torch import nn

from benchbed.plugin import ModelSpec, hookimpl


@hookimpl
def register_models(register):
    register(ModelSpec(name="after-the-command", dataset="digits", threat_models=("Linf",), architecture="linear",
                       recipe="standard", loader=lambda device: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))))
'''


@pytest.fixture
def fresh_host(monkeypatch):
    monkeypatch.setenv("BENCHBED_PLUGINS", "")
    monkeypatch.delenv("BENCHBED_PLUGIN_FILES", raising=False)
    plugin_registry.reset()
    yield
    plugin_registry.reset()


@pytest.mark.parametrize("where", ["before", "after"])
def test_plugin_option_before_or_after_the_command(tmp_path, capsys, fresh_host, where):
    path = tmp_path / "f.py"
    path.write_text(textwrap.dedent(PLUGIN))
    argv = ["--plugin", str(path), "models"] if where == "before" else ["models", "--plugin", str(path)]
    assert main(argv) == 0
    assert "after-the-command" in capsys.readouterr().out


def test_run_help_shows_the_plugin_option(capsys, fresh_host):
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--plugin FILE also load a local plugin file (repeatable; before or after the command" in out


def test_tracks_lists_batch_block_and_seed(capsys, fresh_host):
    assert main(["tracks", "digits-linf"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert re.search(r"\battack\s+batch\s+block\s+seed\s+metrics\b", header)
    track = plugin_registry.registry().tracks.get("digits-linf")
    found = re.search(r"^digits-linf .* autoattack \(standard\)\s+(\d+)\s+(\d+)\s+(\d+)\s", row)
    assert found and found.groups() == (str(track.batch_size), str(track.block_size), str(track.seed))


def test_a_plugin_file_inside_a_package_imports_its_package_by_name(tmp_path, fresh_host):
    from benchbed.registry import PluginHost

    package = tmp_path / "proj" / "pkg_beside_test"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "names.py").write_text('NAME = "from-a-package"\n')
    (package / "plugin.py").write_text(textwrap.dedent(PLUGIN).replace(
        'name="after-the-command"', "name=NAME").replace(
        "from benchbed.plugin import", "from pkg_beside_test.names import NAME\nfrom benchbed.plugin import"))
    host = PluginHost(load_external=False)
    info = host.load_file(package / "plugin.py")
    assert info.ok, info.error
    assert "from-a-package" in host.registry.models.names()
