"""Preflight (every missing thing before any work), partial records, the final line, signals."""
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import benchbed
from benchbed.contracts.errors import DatasetNotFoundError
from benchbed.contracts.reductions import percent
from benchbed.contracts.specs import Column, GenerationSettings, MetricSpec, ModelSpec, TrackSpec
from benchbed.engine.preflight import PreflightError, preflight
from benchbed.engine.runner import run_track

ANSI = re.compile(r"\x1b\[|\r")


def broken_metric() -> MetricSpec:
    """A metric that fails after the accuracy ran."""
    def broken(ctx):
        raise RuntimeError("the broken metric broke")

    return MetricSpec(name="broken", compute=broken, columns=(
        Column("broken_value", "never computed", True, "%", reduce=percent("broken_value")),))


@pytest.fixture
def registry(mlp_registry):
    return mlp_registry(broken_metric())


def inception_digits_track(n=20):
    """A digits track whose samples are scored with Inception features (its weights are what is missing)."""
    return TrackSpec(name="digits-inception", dataset="digits", norm="Linf", eps=0.1, n_examples=n,
                     metrics=("clean_accuracy", "generative"),
                     generation=GenerationSettings(n_samples=20, steps=2, batch_size=20))


@pytest.fixture
def no_inception_weights(monkeypatch, tmp_path):
    """No Inception weights anywhere, and no network: torch hub's cache is empty, downloads fail."""
    monkeypatch.delenv("BENCHBED_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)


def test_missing_inception_weights_stop_the_run_before_any_sampling(registry, no_inception_weights, tmp_path,
                                                                    monkeypatch):
    sampled = []
    monkeypatch.setattr("benchbed.generative.sampling.run_sampler", lambda *a, **k: sampled.append(1))
    with pytest.raises(PreflightError) as err:
        run_track(inception_digits_track(), device="cpu", results_dir=tmp_path / "res", registry=registry,
                  show_progress=False)
    text = str(err.value)
    assert "1 thing(s) missing" in text and "nothing was computed" in text
    assert "Inception weights" in text and "BENCHBED_INCEPTION_WEIGHTS" in text  # what and how to get it
    assert sampled == [] and not (tmp_path / "res" / "runlog.jsonl").exists()  # no unit started


def test_evaluate_runs_the_same_preflight(registry, no_inception_weights, tiny_digits_mlp):
    with pytest.raises(PreflightError, match="Inception weights"):
        benchbed.evaluate(tiny_digits_mlp, inception_digits_track(), device="cpu", registry=registry,
                          progress=False)


def test_preflight_lists_every_missing_thing_one_line_each(registry, no_inception_weights, tmp_path):
    track = TrackSpec(name="cifar-like", dataset="cifar10", norm="Linf", eps=8 / 255, n_examples=10,
                      metrics=("clean_accuracy", "generative"), generation=GenerationSettings(sampler="nope"))
    problems = preflight(track, track.metrics, registry, tmp_path / "data")
    assert len(problems) == 3, problems
    assert problems[0].startswith("cifar10: files not found in") and "cifar-10-python.tar.gz" in problems[0]
    assert "sampler 'nope'" in problems[1]
    assert "Inception weights" in problems[2]
    assert all("\n" not in p for p in problems)


def _cifar10_files(root: Path, monkeypatch) -> Path:
    """torchvision CIFAR-10 files in ``root`` whose md5 table is pointed at them (so they pass)."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import calculate_md5

    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, _ in CIFAR10.train_list + CIFAR10.test_list:
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}, fh)
    with open(folder / CIFAR10.meta["filename"], "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    for attr in ("train_list", "test_list"):
        monkeypatch.setattr(CIFAR10, attr, [[n, calculate_md5(str(folder / n))] for n, _ in getattr(CIFAR10, attr)])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": calculate_md5(str(folder / CIFAR10.meta["filename"]))})
    return folder


def test_a_dataset_file_failing_the_integrity_check_is_named_as_such(registry, tmp_path, monkeypatch):
    folder = _cifar10_files(tmp_path, monkeypatch)
    cifar = registry.datasets.get("cifar10")
    assert cifar.check("test", tmp_path) is None  # good files: nothing to report
    with open(folder / "test_batch", "ab") as fh:
        fh.write(b"truncated download")
    problem = cifar.check("test", tmp_path)
    assert "test_batch is present but fails torchvision's integrity check" in problem and "not found" not in problem
    monkeypatch.setattr("torchvision.datasets.utils.download_url",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DatasetNotFoundError, match="present but fails torchvision's integrity check"):
        cifar.load("test", tmp_path)


def test_a_failing_metric_keeps_the_others_numbers_and_the_last_line_names_it(registry, tmp_path, capsys,
                                                                              monkeypatch):
    from benchbed import registry as plugin_registry
    from benchbed.cli import main

    monkeypatch.setattr(plugin_registry, "registry", lambda: registry)
    code = main(["run", "--n-examples", "30", "--metrics", "clean_accuracy,broken", "--device", "cpu",
                 "--out", str(tmp_path / "res"), "--no-leaderboard", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert err[-1].startswith("PARTIAL mlp: metric 'broken' failed") and "the broken metric broke" in err[-1]
    stored = next((tmp_path / "res").rglob("*.json"))
    data = json.loads(stored.read_text())
    assert data["status"] == "partial" and "broken" in data["metric_errors"]
    # the clean accuracy is kept, and equals a direct count
    test = registry.datasets.get("digits").load("test")
    with torch.no_grad():
        direct = 100.0 * float((registry.models.get("mlp").load("cpu")(test.images[:30]).argmax(1)
                                == test.labels[:30]).float().mean())
    assert data["metrics"]["clean_accuracy"] == pytest.approx(direct, abs=1e-9)


def _zoo_env():
    return {**os.environ, "BENCHBED_PROGRESS": "", "TQDM_DISABLE": ""}


def test_piped_output_is_plain_lines_without_cursor_codes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchbed", "run", "--model", "digits-cnn-pgdat",
                           "--n-examples", "20", "--metrics", "clean_accuracy,robust_accuracy", "--device", "cpu",
                           "--threads", "1", "--out", str(tmp_path / "res"), "--no-leaderboard"],
                          capture_output=True, text=True, env=_zoo_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert not ANSI.search(out)
    lines = proc.stderr.splitlines()
    assert any("running apgd-ce" in line for line in lines)  # attack progress per component
    assert any("robust accuracy after APGD-CE" in line for line in lines)  # points left robust after it
    assert all(re.match(r"^\[\s*\d+:\d\d\] ", line) for line in lines if line and not line.startswith("benchbed"))


def test_sigterm_ends_a_run_with_a_line_and_an_end_event(tmp_path):
    res = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "benchbed", "run", "--model", "digits-cnn-pgdat", "--device",
                             "cpu", "--threads", "1", "--out", str(res), "--no-leaderboard"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_zoo_env())
    seen = []
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # wait until the unit is computing
        seen.append(line)
        if "started" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    lines = (("".join(seen)) + rest).strip().splitlines()
    assert proc.returncode == 130, lines[-5:]
    assert lines[-1] == "benchbed: interrupted; finished results are kept"
    assert any("run interrupted: KeyboardInterrupt: signal SIGTERM" in line for line in lines)
    events = [json.loads(line) for line in (res / "runlog.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "run_start" and events[-1]["event"] == "run_interrupted"
    assert "SIGTERM" in events[-1]["message"]


def test_preflight_checks_each_models_own_sampler_on_a_model_sampler_track(registry, tmp_path):
    """sampler="model": every model is drawn with its own sampler, so each one is checked (and only those)."""
    import dataclasses


    track = TrackSpec(name="joint-like", dataset="digits", norm="Linf", eps=0.1, n_examples=10,
                      metrics=("clean_accuracy", "generative"),
                      generation=GenerationSettings(sampler="model", feature_extractor="digits-cnn"))
    own = ModelSpec(name="own-sampler", dataset="digits", threat_models=("Linf",), architecture="MLP",
                    recipe="joint", loader=lambda device: None, sampler="jem-sgld")
    missing = dataclasses.replace(own, name="missing-sampler", sampler="nowhere")
    assert preflight(track, track.metrics, registry, tmp_path / "data", models=[own]) == []
    problems = preflight(track, track.metrics, registry, tmp_path / "data", models=[own, missing])
    assert problems == ["sampler 'nowhere' (model 'missing-sampler' on track 'joint-like') is not registered: "
                        "install the plugin that provides it (see `benchbed plugins`)"]
