"""The benchbed-digits-zoo plugin: seven models through its entry point, their metadata and checksums.

Retraining, platforms and training series: tests/zoo/. Skipped when the plugin distribution is not
installed (``pip install -e plugins/benchbed-digits-zoo``).
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

zoo = pytest.importorskip("benchbed_digits_zoo.plugin",
                          reason="plugin not installed: pip install -e plugins/benchbed-digits-zoo")

from benchbed_digits_zoo.checksums import CHECKSUMS  # noqa: E402

from benchbed.plugin import ChecksumError, dataset_split, sha256_file  # noqa: E402
from benchbed.registry import PluginHost  # noqa: E402

# name -> (recipe, family, sampler)
MODELS = {
    "digits-cnn-standard": ("standard", "classifier", "sgld"),
    "digits-cnn-pgdat": ("PGD-AT", "classifier", "sgld"),
    "digits-cnn-trades": ("TRADES", "classifier", "sgld"),
    "digits-cnn-weat": ("WEAT", "classifier", "sgld"),
    "digits-cnn-weat-nat": ("WEAT", "classifier", "sgld"),
    "digits-cnn-jem": ("JEM", "joint", "jem-sgld"),
    "digits-cnn-dat": ("DAT", "joint", "dat-pgd"),
}
# The four published checkpoints must never change.
ORIGINAL = {
    "digits-cnn-standard": "2b5fd274862946d2bd28890fabf063fbe9d77e580fbcac2d27d2845ee1582f77",
    "digits-cnn-pgdat": "40db41cf67f231a17fd5811fc2f41d0b2c02d4bea88eb9e1f1e40e6f60889a4f",
    "digits-cnn-trades": "59580de41af1d0b0d38a6be154cfa2a915bb24aea93f712e387839c74b0a2bc5",
    "digits-cnn-weat": "a5ab20cfb3cd3391e1307218ea23e96bec480126521eaab028a92a0596227b9a",
}
PACKAGE = Path(zoo.__file__).parent


@pytest.fixture(scope="module")
def registry():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBED_PLUGINS", "digits-zoo")  # this plugin only, found via its entry point
        mp.delenv("BENCHBED_PLUGIN_FILES", raising=False)
        host = PluginHost()
    info = host.infos["digits-zoo"]
    assert info.ok and info.distribution == "benchbed-digits-zoo", info.error
    return host.registry


def test_seven_models_with_metadata_on_the_digits_track(registry):
    models = {m.name: m for m in registry.models_for(registry.tracks.get("digits-linf"))}
    assert {n: (m.recipe, m.family, m.sampler) for n, m in models.items()} == MODELS
    for name, spec in models.items():
        assert spec.checkpoint_sha256 == CHECKSUMS[name] and spec.architecture.startswith("DigitsCNN")
        assert spec.dataset == "digits" and spec.threat_models == ("Linf",) and spec.extra_data is False
        assert spec.footnote
        if spec.recipe != "standard":
            assert spec.paper and spec.venue and spec.link.startswith("https://arxiv.org/")
    assert {n for n, m in models.items() if m.training_series is not None} == {"digits-cnn-pgdat", "digits-cnn-trades"}
    assert models["digits-cnn-weat"].extra["weat_variant"] == "adv"
    assert models["digits-cnn-weat-nat"].extra["weat_variant"] == "nat"


def test_footnotes_state_the_recipes_settings(registry):
    from benchbed_digits_zoo import recipes

    jem, dat = registry.models.get("digits-cnn-jem").footnote, registry.models.get("digits-cnn-dat").footnote
    j, jem_recipe = recipes.JEM, recipes.RECIPES["digits-cnn-jem"]
    for text in (f"SGLD {j.sgld_steps} steps", f"alpha {j.sgld_step_size:g}", f"sigma {j.sgld_noise:g}",
                 f"replay buffer {j.buffer_size}",
                 f"re-initialised from U[0, 1] with probability {j.reinit_probability:g}",
                 f"data noise {j.data_noise:g}", "two independently shuffled batches",
                 "no energy regulariser" if not j.magnitude_weight else "regulariser",
                 f"lr {jem_recipe.lr:g}", f"{jem_recipe.epochs} epochs", "last incomplete batch dropped"):
        assert text in jem, text
    d, recipe = recipes.DAT, recipes.RECIPES["digits-cnn-dat"]
    for text in (f"step {d.gen_step_size:g}", f"{d.start_steps} -> {d.max_steps} steps", f"{d.auc_window} batches",
                 "AUC of f(x)[y]", f"reaches {d.auc_threshold:g}", f"min({d.ema_decay:g}, (1 + n)/(10 + n))",
                 f"lr {recipe.lr:g}", f"{recipe.epochs} epochs", f"eps {recipes.EPS:g}", "PGD-AT checkpoint",
                 "separately shuffled batch"):
        assert text in dat, text
    assert recipe.init_from == "digits-cnn-pgdat"
    assert "CE(f(x), y)" in registry.models.get("digits-cnn-weat-nat").footnote
    assert "CE(f(x*), y)" in registry.models.get("digits-cnn-weat").footnote


def test_shipped_files_have_their_recorded_sha256_and_the_original_four_never_change():
    assert set(CHECKSUMS) == set(MODELS)
    assert {name: CHECKSUMS[name] for name in ORIGINAL} == ORIGINAL
    for name, digest in CHECKSUMS.items():
        assert sha256_file(zoo.CHECKPOINT_DIR / f"{name}.pt") == digest, name


def test_checkpoints_load_and_classify_digits(registry):
    test = dataset_split("digits", "test")
    for name in MODELS:
        model = registry.models.get(name).load("cpu")
        with torch.no_grad():
            accuracy = (model(test.images).argmax(1) == test.labels).float().mean().item()
        assert accuracy > 0.9, (name, accuracy)


def test_tampered_checkpoint_is_rejected(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    shutil.copytree(zoo.CHECKPOINT_DIR, folder)
    path = folder / "digits-cnn-jem.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    monkeypatch.setattr(zoo, "CHECKPOINT_DIR", folder)  # the plugin's loader reads it at call time
    with pytest.raises(ChecksumError, match="digits-cnn-jem.pt"):
        zoo.load_checkpoint("digits-cnn-jem", "cpu")


def test_plugin_module_stays_cheap_to_import():
    """Listing plugins must not pay for torch."""
    code = "import sys, benchbed_digits_zoo.plugin; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_plugin_imports_benchbed_only_through_the_public_plugin_api():
    pattern = re.compile(r"^\s*(?:from|import)\s+benchbed(?:\.(\w+))?", re.MULTILINE)
    for source in PACKAGE.glob("*.py"):
        for module in pattern.findall(source.read_text()):
            assert module == "plugin", f"{source.name} imports benchbed.{module or ''}"


def _zoo_imports() -> dict[str, tuple[set[str], set[str]]]:
    """{module: (zoo modules imported at the top, zoo modules imported inside a function)}."""
    graph = {}
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text())
        top_level = {id(node) for node in tree.body}
        found: tuple[set[str], set[str]] = (set(), set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module] if node.module else [a.name for a in node.names]
                found[0 if id(node) in top_level else 1].update(n.split(".")[0] for n in names)
        graph[source.stem] = found
    return graph


def test_the_zoo_has_no_import_cycle_and_imports_inside_functions_only_in_the_plugin_module():
    """recipes / training / reproduction / series / the command line import in one direction; the plugin
    module alone defers two imports (torch's cost), and nothing imports it back."""
    graph = _zoo_imports()
    edges = {m: top | inner for m, (top, inner) in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(path + [node, nxt])
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert {m for m, (_, inner) in graph.items() if inner} == {"plugin"}
    assert not any("plugin" in deps for deps in edges.values())
    assert {"recipes", "training", "reproduction", "series"} <= set(graph)
    assert "training" not in edges["recipes"] and "reproduction" not in edges["training"]
    assert "series" not in edges["reproduction"] and "train" not in set().union(*edges.values())


def test_the_old_training_names_still_work_with_a_deprecation_warning():
    from benchbed_digits_zoo import recipes, train, training

    with pytest.warns(DeprecationWarning, match="train.RECIPES moved to benchbed_digits_zoo.recipes.RECIPES"):
        assert train.RECIPES is recipes.RECIPES
    with pytest.warns(DeprecationWarning, match="moved to benchbed_digits_zoo.training.train"):
        assert train.train is training.train
    with pytest.raises(AttributeError):
        train.no_such_name  # noqa: B018


def test_the_command_line_module_runs_as_documented():
    result = subprocess.run([sys.executable, "-m", "benchbed_digits_zoo.train", "--help"], capture_output=True,
                            text=True, check=True)
    assert "--check" in result.stdout and "--record" in result.stdout and "--series" in result.stdout


@pytest.mark.slow
def test_zoo_units_side_by_side_equal_one_after_another(tmp_path):
    """Two zoo models at 1 thread per unit: 2 worker processes give the records of one process, field by field
    (AutoAttack is seeded per attack block, the energy study's PGD per block too)."""
    import json

    from benchbed.engine.runner import run_track
    from benchbed.results.store import ResultsStore

    def records(workers):
        out = tmp_path / f"w{workers}"
        summary = run_track("digits-linf", ["digits-cnn-standard", "digits-cnn-trades"], n_examples=24,
                            metrics="clean_accuracy,robust_accuracy,energy", device="cpu", threads=1,
                            workers=workers, results_dir=out, show_progress=False)
        assert not summary.failed
        folder = ResultsStore(out).track_dir("digits-linf")
        volatile = {"finished_at", "run_id", "timings_s", "wall_time_s", "record_sha256"}
        return {str(p.relative_to(folder)): {k: v for k, v in json.loads(p.read_text()).items() if k not in volatile}
                for p in sorted(folder.rglob("*.json"))}, out

    (one, _), (two, out) = records(1), records(2)
    assert len(one) == 4 and one == two  # 2 merged records + 2 unit records
    started = [json.loads(line) for line in (out / "runlog.jsonl").read_text().splitlines()
               if '"executor_started"' in line]
    assert started[0]["workers"] == 2 and started[0]["threads"] == 1
