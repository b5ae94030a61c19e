"""Issue 12: each case that once gave a silently wrong number or lost a record, now impossible or one line.

One test per item: shared input tensors, non-finite logits, colliding names, foreign or edited records,
plugin upgrades, quick runs beside full ones, a loader that lies about its checksum, and the smaller
cases (an --out that is a file, a plugin broken half-way, pickled checkpoints, spreadsheet formulas).
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch
from torch import nn

from benchbed.cli import main
from benchbed.plugin import ModelSpec, TrackSpec, hookimpl
from benchbed.registry import PluginHost
from benchbed.results.store import ResultFileWarning, ResultsStore

from .conftest import N_POINTS, TRACK, Models, registry_with, run


def _metrics_and_arrays(store, record):
    return record.metrics, store.arrays(record)


def _same(a, b):
    (ma, aa), (mb, ab) = a, b
    assert ma == mb
    assert aa.keys() == ab.keys()
    for key in aa:
        assert np.array_equal(aa[key], ab[key]), key


# -- 1. shared input tensors --------------------------------------------------------------------------------
class Normalising(nn.Module):
    """The common bug: it rescales its input in place."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        x.mul_(0.5).sub_(0.25)
        return self.inner(x)


def test_a_model_that_mutates_its_input_cannot_change_another_models_numbers(healthy, tmp_path):
    alone = run(registry_with({"healthy": lambda d: healthy}), tmp_path / "alone", ["healthy"])
    reg = registry_with({"a-mutating": lambda d: Normalising(copy.deepcopy(healthy)), "healthy": lambda d: healthy})
    both = run(reg, tmp_path / "both", ["a-mutating", "healthy"])  # the mutating model runs first
    assert not alone.failed and not both.failed
    store_alone, store_both = ResultsStore(tmp_path / "alone"), ResultsStore(tmp_path / "both")
    records = {r.model: r for r in both.records}
    _same(_metrics_and_arrays(store_alone, alone.records[0]), _metrics_and_arrays(store_both, records["healthy"]))
    assert records["healthy"].metrics["clean_accuracy"] > 80
    flags = {f.label for f in records["a-mutating"].flags}
    assert "modifies its input" in flags
    assert "modifies its input" not in {f.label for f in records["healthy"].flags}


# -- 2. non-finite logits ----------------------------------------------------------------------------------
class NaNBeyondTheEighth(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        out = self.inner(x)
        return torch.where(torch.arange(len(x)).unsqueeze(1) >= 8, torch.full_like(out, float("nan")), out)


class NaNOffTheTestSet(nn.Module):
    """Finite on the natural test images (so probes and clean accuracy look fine), NaN on anything else."""

    def __init__(self, inner, natural):
        super().__init__()
        self.inner = inner
        self.natural = {hashlib.sha256(x.numpy().tobytes()).hexdigest() for x in natural}

    def forward(self, x):
        out = self.inner(x)
        known = torch.tensor([hashlib.sha256(r.detach().cpu().numpy().tobytes()).hexdigest() in self.natural
                              for r in x])
        return torch.where(known.unsqueeze(1), out, torch.full_like(out, float("nan")))


def test_nan_logits_anywhere_fail_the_model_with_one_line(healthy, tmp_path):
    from benchbed.builtin.dataset_loaders import load_digits_split

    natural = load_digits_split("test").images[:N_POINTS]
    reg = registry_with({"nan-beyond-8": lambda d: NaNBeyondTheEighth(healthy),
                         "nan-perturbed": lambda d: NaNOffTheTestSet(healthy, natural),
                         "healthy": lambda d: healthy})
    summary = run(reg, tmp_path, ["nan-beyond-8", "nan-perturbed", "healthy"])
    status = {o.model: o for o in summary.outcomes}
    assert status["healthy"].status == "ok"
    beyond, perturbed = status["nan-beyond-8"], status["nan-perturbed"]
    assert beyond.status == perturbed.status == "failed"
    assert f"NaN/inf logits for {N_POINTS - 8} of {N_POINTS} clean test inputs" in beyond.error
    assert "inputs evaluated by the attack" in perturbed.error and "NaN/inf logits" in perturbed.error
    for error in (beyond.error, perturbed.error):
        assert "\n" not in error
    store = ResultsStore(tmp_path)
    assert [r.model for r in store.records()] == ["healthy"]  # never a record, never ranked
    assert {f.model for f in store.failures()} == {"nan-beyond-8", "nan-perturbed"}


def test_nan_in_any_phase_is_counted_and_named(healthy):
    """The guard every plugin's code calls the model through counts NaN/inf rows per phase (sampler
    steps, generated samples, ...) and names the phase; finite calls in the phase do not count."""
    from benchbed.contracts.errors import ModelOutputError
    from benchbed.engine.context import GuardedModel

    guarded = GuardedModel(NaNBeyondTheEighth(healthy), "m", 10)
    with pytest.raises(ModelOutputError, match=r"model 'm' returned NaN/inf logits for 2 of 18 sampler steps"):
        with guarded.phase("sampler steps"):
            guarded(torch.rand(8, 1, 8, 8))  # finite: 8 rows
            guarded(torch.rand(10, 1, 8, 8))  # rows 8 and 9 are NaN


# -- 3. names and files ------------------------------------------------------------------------------------
def test_colliding_names_get_their_own_files(healthy, tmp_path):
    weak = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    loaders = {"x/y": lambda d: healthy, "x__y": lambda d: weak, "probe/ä": lambda d: healthy,
               "probe/ö": lambda d: weak}
    summary = run(registry_with(loaders), tmp_path, list(loaders), metrics=["clean_accuracy"])
    assert not summary.failed
    stored = {r.model: r for r in ResultsStore(tmp_path).records()}
    assert set(stored) == set(loaders)
    assert stored["x/y"].metrics == stored["probe/ä"].metrics != stored["x__y"].metrics
    store = ResultsStore(tmp_path)
    assert len({store.record_path(TRACK, r.model, r.variant) for r in stored.values()}) == 4


@pytest.mark.parametrize("kind", ["models", "tracks", "datasets", "metrics", "samplers"])
@pytest.mark.parametrize("name", ["..", ".", "", "a/../b", "a\\b", "bad\nname", " padded"])
def test_names_that_could_act_as_paths_are_refused_at_registration(kind, name):
    from benchbed.plugin import Column, DatasetSpec, MetricOutput, MetricSpec, SamplerSpec

    make = {
        "models": lambda: ModelSpec(name=name, dataset="digits", threat_models=("Linf",), architecture="a",
                                    recipe="r", loader=lambda d: None),
        "tracks": lambda: TrackSpec(name=name, dataset="digits", norm="Linf", eps=0.1, n_examples=10),
        "datasets": lambda: DatasetSpec(name=name, num_classes=10, image_shape=(1, 8, 8), loader=lambda s, d: None),
        "metrics": lambda: MetricSpec(name=name, columns=(Column("c", "d"),), compute=lambda ctx: MetricOutput()),
        "samplers": lambda: SamplerSpec(name=name, sample=lambda r: None),
    }[kind]

    class Bad:
        pass

    setattr(Bad, f"register_{kind}", hookimpl(lambda self, register: register(make())))

    class AlsoAModel:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec(name="innocent", dataset="digits", threat_models=("Linf",), architecture="a",
                               recipe="r", loader=lambda d: None))

    host = PluginHost(load_external=False)
    host.register(Bad(), name="bad-names")
    host.register(AlsoAModel(), name="good-plugin")
    reg = host.registry
    error = host.infos["bad-names"].error
    assert error and "invalid name" in error and "\n" not in error
    assert name not in reg.table(kind)
    assert "innocent" in reg.models  # the others still load


def test_a_broken_plugin_contributes_nothing():
    class HalfBroken:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec(name="half-model", dataset="digits", threat_models=("Linf",), architecture="a",
                               recipe="r", loader=lambda d: None))

        @hookimpl
        def register_tracks(self, register):
            raise RuntimeError("track definitions exploded")

    host = PluginHost(load_external=False)
    host.register(HalfBroken(), name="half-broken")
    reg = host.registry
    assert "half-model" not in reg.models
    assert "register_tracks failed" in host.infos["half-broken"].error
    assert any("half-broken" in p for p in reg.problems)


def test_a_register_hook_cannot_register_the_wrong_kind():
    class Confused:
        @hookimpl
        def register_models(self, register):
            register(TrackSpec(name="not-a-model", dataset="digits", norm="Linf", eps=0.1, n_examples=10))

    host = PluginHost(load_external=False)
    host.register(Confused(), name="confused")
    reg = host.registry
    assert "not-a-model" not in reg.models and "not-a-model" not in reg.tracks
    assert "registered a TrackSpec, not a ModelSpec" in host.infos["confused"].error


# -- 4. foreign, wrongly typed and edited records -------------------------------------------------------
def _quiet_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_forged_mistyped_and_edited_records_never_count(healthy, tmp_path):
    reg = registry_with({"honest": lambda d: healthy})
    run(reg, tmp_path, ["honest"])
    store = ResultsStore(tmp_path)
    (real,) = store.records()
    folder = store.track_dir(TRACK)
    # a hand-written record with no provenance or checksum, meant to rank first
    (folder / "forged.json").write_text(json.dumps({"model": "forged", "track": TRACK, "status": "ok",
                                                    "metrics": {"robust_accuracy": 100.0, "clean_accuracy": 100.0}}))
    # wrong types
    (folder / "typed.json").write_text(json.dumps({"model": 5, "track": TRACK}))
    # the real record, its robust accuracy edited upwards
    path = store.record_path(TRACK, "honest")
    edited = json.loads(path.read_text())
    edited["metrics"]["robust_accuracy"] = 99.0
    path.write_text(json.dumps(edited))
    with pytest.warns(ResultFileWarning) as caught:
        assert store.records() == []
    messages = [str(w.message) for w in caught]
    assert any("forged.json" in m and "schema_version" in m for m in messages)
    assert any("typed.json" in m for m in messages)
    assert any(path.name in m and "record_sha256 does not match" in m for m in messages)
    # the CLI says so and gives no traceback
    code, out, err = _quiet_cli("results", "--out", str(tmp_path))
    assert code == 2 and "Traceback" not in err and "no results" in err
    code, out, err = _quiet_cli("leaderboard", "--results", str(tmp_path), "--out", str(tmp_path / "site"))
    assert code == 2 and "Traceback" not in err and "no valid result records" in err
    # and `benchbed run` never reuses the edited record: it rebuilds it from the checksummed units
    with pytest.warns(ResultFileWarning):
        again = run(reg, tmp_path, ["honest"])
    events = [json.loads(line) for line in (tmp_path / "runlog.jsonl").read_text().splitlines()]
    mine = [e["event"] for e in events if e["run_id"] == again.run_id]
    assert "model_merged" in mine and "model_cached" not in mine
    assert again.records[0].metrics == real.metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the forged and mistyped files are still there (and still refused)
        assert [r.metrics for r in ResultsStore(tmp_path).records()] == [real.metrics]


# -- 5. plugin upgrades ------------------------------------------------------------------------------------
PLUGIN_V = '''
import numpy as np
from benchbed.plugin import Column, MetricOutput, MetricSpec, hookimpl, mean

def margin(ctx):
    top2 = ctx.clean_logits.topk(2, dim=1).values
    return MetricOutput(arrays={"upgrade_margin": (top2[:, 0] - top2[:, 1]).numpy().astype(np.float64) * SCALE})

@hookimpl
def register_metrics(register):
    register(MetricSpec(name="upgrade_margin", compute=margin,
                        columns=(Column("upgrade_margin", "top-2 margin", reduce=mean("upgrade_margin")),)))
'''


def test_a_plugin_upgrade_invalidates_its_cached_numbers(healthy, tmp_path):
    plugin = tmp_path / "upgrade_plugin.py"

    def registry(scale):
        plugin.write_text(f"SCALE = {scale}\n" + PLUGIN_V)
        host = PluginHost(load_external=False)
        host.register(Models({"m": lambda d: healthy}), name="trust-models")
        assert host.load_file(plugin).ok
        return host.registry

    first = run(registry(1.0), tmp_path / "r", ["m"], metrics=["clean_accuracy", "upgrade_margin"])
    reg = registry(2.0)  # the metric's formula changed: a new version of the plugin
    assert reg.provenance("metrics", "upgrade_margin")["version"] != first.records[0].plugins[
        "metric:upgrade_margin"]["version"]
    second = run(reg, tmp_path / "r", ["m"], metrics=["clean_accuracy", "upgrade_margin"])
    assert not second.outcomes[0].cached
    assert second.records[0].metrics["upgrade_margin"] == pytest.approx(2 * first.records[0].metrics["upgrade_margin"])


def test_the_attack_library_version_is_in_the_key_and_provenance(healthy, tmp_path):
    import importlib.metadata as md

    record = run(registry_with({"m": lambda d: healthy}), tmp_path, ["m"]).records[0]
    assert record.plugins["attack"]["library"] == "pyautoattack"
    assert record.plugins["attack"]["library_version"] == md.version("pyautoattack")
    assert record.attack.library == "pyautoattack" and record.attack.library_version == md.version("pyautoattack")
    assert record.plugins["model"]["plugin"] == "trust-models"


# -- 6. quick runs beside full ones -------------------------------------------------------------------------
def test_a_quick_run_lives_beside_the_full_one(healthy, tmp_path):
    from benchbed.leaderboard import render_site
    from benchbed.results.tables import shown_records

    reg = registry_with({"m": lambda d: healthy})
    full = run(reg, tmp_path, ["m"]).records[0]
    quick = run(reg, tmp_path, ["m"], n_examples=10).records[0]
    assert (full.variant, full.quick) == ("", False) and (quick.variant, quick.quick) == ("n10", True)
    store = ResultsStore(tmp_path)
    assert {r.variant for r in store.records()} == {"", "n10"}
    assert store.record(TRACK, "m") == full  # untouched
    assert shown_records(store.records()) == [full]
    site = render_site(tmp_path, tmp_path / "site")
    model_page = (site / "models" / "m.html").read_text()
    assert "Other runs of this model" in model_page and "n10" in model_page and "quick" in model_page
    track_csv = next(site.glob("tracks/*.csv")).read_text()
    assert track_csv.count("\n") == 2  # header + the full record's row only


# -- 7. the checkpoint hash is only a claim ---------------------------------------------------------------
def test_benchbed_fingerprints_what_it_evaluates(healthy, tmp_path):
    weights = tmp_path / "w.pt"
    torch.save(healthy.state_dict(), weights)

    def loader(device):  # claims a fixed "checksum" and checks nothing
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        model.load_state_dict(torch.load(weights, weights_only=True))
        return model

    reg = registry_with({"liar": loader}, checksums={"liar": "not-a-sha256"})
    first = run(reg, tmp_path / "r", ["liar"]).records[0]
    assert first.checkpoint_sha256 == "not-a-sha256" and len(first.weights_sha256) == 64
    assert "unverified checkpoint" in {f.label for f in first.flags}
    changed = copy.deepcopy(healthy)
    with torch.no_grad():
        changed[1].weight.mul_(0.5)
    torch.save(changed.state_dict(), weights)  # same claim, other weights
    second = run(reg, tmp_path / "r", ["liar"])
    assert not second.outcomes[0].cached
    assert second.records[0].weights_sha256 != first.weights_sha256
    assert second.records[0].checkpoint_sha256 == "not-a-sha256"


# -- 8. smaller cases -----------------------------------------------------------------------------------------
def test_out_pointing_at_a_file_is_one_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    code, out, err = _quiet_cli("run", "--out", str(target), "--n-examples", "5")
    lines = [line for line in err.splitlines() if line.startswith("benchbed: error:")]
    assert code == 2 and len(lines) == 1 and "is a file, not a folder" in lines[0] and "Traceback" not in err


def test_a_pickled_checkpoint_is_refused_in_one_line(healthy, tmp_path):
    from benchbed.contracts.checkpoints import load_state_dict
    from benchbed.contracts.errors import BenchbedError
    from benchbed.results.provenance import sha256_file

    path = tmp_path / "whole-model.pt"
    torch.save(healthy, path)  # the module object itself: pickled code, not a state dict
    with pytest.raises(BenchbedError) as err:
        load_state_dict(path, sha256_file(path))
    message = str(err.value)
    assert "holds pickled code" in message and "torch.save(model.state_dict(), path)" in message
    assert "\n" not in message
    summary = run(registry_with({"pickled": lambda d: torch.load(path, weights_only=True)}), tmp_path / "r",
                  ["pickled"])
    assert "holds pickled code" in summary.outcomes[0].error and "\n" not in summary.outcomes[0].error


def test_downloads_neutralise_spreadsheet_formulas(healthy, tmp_path):
    from benchbed.leaderboard import render_site

    reg = registry_with({"=HYPERLINK(\"x\")": lambda d: healthy, "@sum": lambda d: healthy,
                         "-2+3": lambda d: healthy, "+cmd": lambda d: healthy})
    run(reg, tmp_path, ["=HYPERLINK(\"x\")", "@sum", "-2+3", "+cmd"], metrics=["clean_accuracy"])
    site = render_site(tmp_path, tmp_path / "site")
    csv_text = next(site.glob("tracks/*.csv")).read_text()
    data = json.loads(next(p for p in site.glob("tracks/*.json") if not p.name.endswith("records.json")).read_text())
    cells = [row["model"] for row in data["rows"]]
    for cell in cells:
        assert cell.startswith("'"), cell
    for line in csv_text.splitlines()[1:]:
        first_text = line.split(",")[1]
        assert first_text.startswith("'") or first_text.startswith("\"'"), line
    code, out, err = _quiet_cli("results", "--out", str(tmp_path), "--format", "csv")
    assert code == 0 and all(not line.split(",")[0].startswith(("=", "+", "-", "@")) for line in out.splitlines())


def test_adding_a_metric_to_the_tracks_set_is_not_partial(healthy, tmp_path):
    """A record is partial when a metric of the track is missing or failed, not when one is added."""
    reg = registry_with({"m": lambda d: healthy})
    added = run(reg, tmp_path, ["m"], metrics=["clean_accuracy", "robust_accuracy", "energy"]).records[0]
    assert added.status == "ok" and not added.partial and added.variant  # its own variant, complete
    fewer = run(reg, tmp_path, ["m"], metrics=["clean_accuracy"]).records[0]
    assert fewer.partial and fewer.missing_metrics == ("robust_accuracy",)


def test_a_damaged_result_file_is_one_warning_line_on_the_command_line(tmp_path, capsys):
    """Python's own warning display adds the source line under the message; the CLI says it in one line."""
    import warnings

    from benchbed.cli import main

    folder = tmp_path / "results" / "digits-linf.000000000000"
    folder.mkdir(parents=True)
    (folder / "forged.json").write_text(json.dumps({"model": "forged-best", "metrics": {"robust_accuracy": 100.0}}))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["results", "--out", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("benchbed: warning: ignoring result file ") and "forged.json" in err[0]
    assert "schema_version" in err[0]
    assert err[1].startswith("benchbed: error: no results in ") and len(err) == 2
