import os
import subprocess
import sys
import textwrap

import pytest

import benchbed
from benchbed.contracts.errors import UnknownNameError
from benchbed.contracts.specs import ModelSpec
from benchbed.registry import PluginHost


def _linear(device):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).to(device)


class OneModel:
    def __init__(self, name):
        self.name = name

    @benchbed.plugin.hookimpl
    def register_models(self, register):
        register(ModelSpec(name=self.name, dataset="digits", threat_models=("Linf",), architecture="linear",
                           recipe="standard", loader=_linear))


def test_builtins_register_through_the_same_hooks():
    host = PluginHost(load_external=False)
    reg = host.registry
    assert {"digits", "cifar10", "cifar100", "svhn"} <= set(reg.datasets.names())
    assert {"digits-linf", "cifar10-linf", "cifar10-l2", "cifar100-linf"} <= set(reg.tracks.names())
    assert "autoattack" in reg.attacks.names()
    assert reg.tracks.source("digits-linf") == "benchbed.builtin.tracks"
    assert all(info.distribution == "benchbed" for info in host.infos.values())


def test_register_and_unregister_plugin_object():
    host = PluginHost(load_external=False)
    host.register(OneModel("probe-model"), name="probe")
    assert "probe-model" in host.registry.models.names()
    assert host.registry.models.source("probe-model") == "probe"
    host.unregister("probe")
    assert "probe-model" not in host.registry.models.names()


def test_duplicate_names_name_both_sources_and_keep_the_first():
    host = PluginHost(load_external=False)
    host.register(OneModel("same"), name="first-plugin")
    host.register(OneModel("same"), name="second-plugin")
    reg = host.registry
    assert reg.models.names() == ["same"]
    assert reg.models.source("same") == "first-plugin"
    problem = " ".join(reg.problems)
    assert "duplicate model name 'same'" in problem and "first-plugin" in problem and "second-plugin" in problem
    assert host.infos["second-plugin"].error is not None and host.infos["first-plugin"].ok


def test_a_plugin_whose_register_hook_raises_is_isolated():
    class Broken:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            raise RuntimeError("weights server exploded")

    host = PluginHost(load_external=False)
    host.register(Broken(), name="broken-one")
    host.register(OneModel("healthy"), name="healthy-one")
    assert host.registry.models.names() == ["healthy"]
    assert "weights server exploded" in host.infos["broken-one"].error


def test_unknown_names_suggest_close_matches():
    reg = PluginHost(load_external=False).registry
    with pytest.raises(UnknownNameError, match=r"did you mean 'digits-linf'"):
        reg.tracks.get("digits-lnf")
    assert "\n" not in str(pytest.raises(UnknownNameError, reg.datasets.get, "cifar11").value)


def test_wildcard_listing():
    reg = PluginHost(load_external=False).registry
    assert reg.tracks.names("cifar*") == ["cifar10-corruptions", "cifar10-l2", "cifar10-l2-joint50k", "cifar10-linf",
                                          "cifar100-corruptions", "cifar100-linf"]
    assert reg.tracks.names("*-corruptions") == ["cifar10-corruptions", "cifar100-corruptions", "imagenet-corruptions"]


# -- real distributions with entry points, installed into a temp dir --------------------------------
def _make_distribution(root, dist, module, body):
    src = root / dist
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(textwrap.dedent(body))
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "1.2.3"
        [project.entry-points.benchbed]
        {dist} = "{module}"
        [tool.setuptools]
        packages = ["{module}"]
    """))
    return src


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin-dists")
    good = _make_distribution(root, "throwaway-zoo", "throwaway_zoo", """
        import benchbed
        from benchbed.contracts.specs import ModelSpec
        from torch import nn

        def load(device):
            return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).to(device)

        @benchbed.plugin.hookimpl
        def register_models(register):
            register(ModelSpec(name="throwaway-linear", dataset="digits", threat_models=("Linf",),
                               architecture="linear", recipe="standard", loader=load))
    """)
    bad = _make_distribution(root, "exploding-plugin", "exploding_plugin", """
        raise ImportError("this plugin needs a library that is not installed")
    """)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(good), str(bad)], check=True)
    return target


def _benchbed(target, *args, **env):
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-m", "benchbed", *args], capture_output=True, text=True, env=environ,
                          timeout=300)


def test_installed_plugin_appears_and_broken_one_is_reported(installed_plugins):
    out = _benchbed(installed_plugins, "plugins")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "throwaway-zoo" in lines and "1.2.3" in lines["throwaway-zoo"] and " ok " in lines["throwaway-zoo"]
    assert "BROKEN" in lines["exploding-plugin"]
    assert "this plugin needs a library that is not installed" in out.stdout
    assert "benchbed.builtin.tracks" in out.stdout
    models = _benchbed(installed_plugins, "models", "--track", "digits-linf")
    assert models.returncode == 0 and "throwaway-linear" in models.stdout
    assert "exploding-plugin" in models.stderr  # warned, not fatal


def test_env_var_limits_external_plugins(installed_plugins):
    only_good = _benchbed(installed_plugins, "plugins", BENCHBED_PLUGINS="throwaway-zoo")
    assert "throwaway-zoo" in only_good.stdout and "exploding-plugin" not in only_good.stdout
    none = _benchbed(installed_plugins, "plugins", BENCHBED_PLUGINS="")
    assert "throwaway-zoo" not in none.stdout and "benchbed.builtin.datasets" in none.stdout
