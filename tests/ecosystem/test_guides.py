"""Every plugin-kind guide (docs/plugins/*.md) and the Python API page (docs/python-api.md), followed
literally: their ``guide`` blocks run verbatim in an empty folder (see ``guide_runner``), with only the
digits zoo among the installed plugins, and what they print is what the guides say."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # guide_runner (any import mode)

from guide_runner import DOCS, guide_blocks, guide_environment, output_of, run_guide  # noqa: E402

ZOO = "benchbed-digits-zoo"
KINDS = ("metrics", "attacks", "datasets", "samplers", "tracks")


def run(tmp_path: Path, guide: Path) -> tuple[Path, list[tuple[str, str]]]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir, run_guide(guide, workdir, guide_environment(tmp_path, ZOO))


@pytest.mark.parametrize("kind", KINDS)
def test_every_plugin_kind_has_a_guide_with_runnable_blocks(kind):
    guide = DOCS / "plugins" / f"{kind}.md"
    text = guide.read_text()
    blocks = guide_blocks(text)
    assert any(b["file"] for b in blocks), "the guide writes a plugin file"
    assert any(b["lang"] == "bash" for b in blocks), "the guide runs benchbed"
    for topic in ("What", "hook"):  # what the hook receives, what the spec fields mean
        assert topic in text
    for other in KINDS:  # every guide links every other kind and the Python API
        if other != kind:
            assert f"({other}.md)" in text
    assert "(../python-api.md)" in text and "(../writing-a-plugin.md)" in text


def test_the_model_guide_links_pages_that_exist():
    text = (DOCS / "writing-a-plugin.md").read_text()
    for link in re.findall(r"\]\(([^)#:]+\.md)\)", text):
        assert (DOCS / link).is_file(), link
    assert (DOCS / "python-api.md").is_file()


@pytest.mark.slow
def test_metric_guide(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "plugins" / "metrics.md")
    listed = output_of(outputs, "benchbed --plugin confidence.py metrics")
    assert "mean_confidence" in listed and "confident_errors" in listed and "file:confidence.py" in listed
    reduced = output_of(outputs, "import numpy as np")
    assert "'mean_confidence': 78.2" in reduced and "'median_confidence': 95.0" in reduced
    assert "'confident_errors': 20.0" in reduced
    table = output_of(outputs, "benchbed --plugin confidence.py run")
    assert "mean_confidence" in table and "digits-cnn-pgdat" in table
    csv = [out for body, out in outputs if body.lstrip().startswith("benchbed --plugin")][-1]
    assert "median_confidence" in csv and "confident_errors" in csv
    records = list((workdir / "results").rglob("digits-cnn-standard*.json"))
    record = json.loads(next(p for p in records if "units" not in p.parts).read_text())
    assert record["status"] == "partial" and record["metrics_run"] == ["clean_accuracy", "confidence"]
    assert 0 < record["metrics"]["mean_confidence"] <= 100


@pytest.mark.slow
def test_attack_guide(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "plugins" / "attacks.md")
    assert "pgd-linf" in output_of(outputs, "benchbed --plugin pgd_attack.py attacks")
    table = output_of(outputs, "benchbed --plugin pgd_attack.py run")
    assert "digits-linf-pgd" in table and "robust_accuracy" in table and "digits-cnn-pgdat" in table
    record = json.loads(next(p for p in (workdir / "results").rglob("digits-cnn-pgdat*.json")
                             if "units" not in p.parts).read_text())
    assert record["status"] == "ok" and record["attack"]["name"] == "pgd-linf"
    assert record["attack"]["version"] == "pgd-10" and record["attack"]["flipped_by"]["pgd"] > 0
    assert record["plugins"]["attack"]["plugin"] == "file:pgd_attack.py"
    assert 50 < record["metrics"]["robust_accuracy"] < record["metrics"]["clean_accuracy"]


@pytest.mark.slow
def test_dataset_guide(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "plugins" / "datasets.md")
    assert (workdir / "data" / "noisy-digits" / "test.npz").is_file()
    listed = output_of(outputs, "benchbed --plugin noisy_digits.py datasets")
    assert "noisy-digits" in listed and "needs files" in listed and "file:noisy_digits.py" in listed
    loaded = output_of(outputs, "import os\nfrom pathlib import Path")
    assert loaded.startswith("(449, 1, 8, 8) torch.float32 0.0 1.0")
    assert "noisy-digits: nowhere/noisy-digits/test.npz not found" in loaded
    accuracy = re.search(r"clean accuracy: digits ([\d.]+)%, noisy digits ([\d.]+)%",
                         output_of(outputs, "import os\n\nos.environ"))
    assert accuracy and 90 < float(accuracy[1]) and 0 < float(accuracy[2]) < 100
    # the helpers: numpy arrays (a test-only split), an image folder, torchvision's MNIST by name
    listed = output_of(outputs, "python make_npz.py")
    assert "digits-npz" in listed and "test" in listed.split("digits-npz", 1)[1].splitlines()[0]
    npz = output_of(outputs, 'import os\n\nos.environ["BENCHBED_PLUGIN_FILES"] = "digits_npz.py"')
    assert npz.startswith("same images: True same labels: True\nclean accuracy ")
    assert "metric(s) generative need the training split of dataset 'digits-npz'" in npz
    png = output_of(outputs, 'import os\n\nos.environ["BENCHBED_PLUGIN_FILES"] = "digits_png.py"')
    assert png.startswith("same images in folder order, to uint8 rounding: True\nlabels: [0, 0, 0] ... [9, 9, 9]")
    mnist = output_of(outputs, 'import os\n\nos.environ["BENCHBED_PLUGIN_FILES"] = "mnist.py"')
    assert mnist.startswith("(40, 1, 28, 28) [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]\nclean accuracy ")
    assert "on 40 points\nmnist: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte" in mnist
    assert "(or .gz) not found in empty-folder/MNIST/raw" in mnist


@pytest.mark.slow
def test_sampler_guide(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "plugins" / "samplers.md")
    listed = output_of(outputs, "benchbed --plugin descent_sampler.py samplers")
    assert "descent" in listed and "sgld" in listed and "file:descent_sampler.py" in listed
    meta = json.loads((workdir / "samples" / "samples.json").read_text())
    assert meta["n_samples"] == 40 and meta["sampler"] == "descent" and meta["steps"] == 20
    assert (workdir / "samples" / "grid.png").read_bytes().startswith(b"\x89PNG")
    table = [out for body, out in outputs if body.lstrip().startswith("benchbed --plugin descent_sampler.py run")][0]
    assert "digits_is" in table and "digits_fid" in table
    record = json.loads(next(p for p in (workdir / "results").rglob("digits-cnn-jem*.json")
                             if "units" not in p.parts).read_text())
    assert record["status"] == "ok" and record["metric_info"]["generative"]["sampler"] == "descent"
    assert record["plugins"]["sampler:descent"]["plugin"] == "file:descent_sampler.py"
    assert record["metrics"]["digits_fid"] > 0 and record["metrics"]["digits_is"] > 1


@pytest.mark.slow
def test_track_guide(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "plugins" / "tracks.md")
    listed = output_of(outputs, "benchbed --plugin my_tracks.py tracks")  # then `models --track`
    assert "digits-linf-0.05" in listed and "digits-cnn-standard" in listed and "digits-cnn-weat" in listed
    compared = output_of(outputs, "from benchbed.results.store import ResultsStore")
    assert "units: ['shard-0001-of-0003', 'shard-0002-of-0003', 'shard-0003-of-0003'] vs ['all']" in compared
    assert "same numbers: True {'clean_accuracy':" in compared


@pytest.mark.slow
def test_python_api_page(tmp_path):
    workdir, outputs = run(tmp_path, DOCS / "python-api.md")
    evaluated = output_of(outputs, "import torch")
    assert re.search(r"clean accuracy [\d.]+% on 100 points; quick: True", evaluated)
    assert "my-mlp" in evaluated and "written to digits-linf." in evaluated
    looked_up = output_of(outputs, "import benchbed")
    assert "['digits-cnn-dat'" in looked_up and "TRADES" in looked_up and "training: False" in looked_up
    read = output_of(outputs, "from benchbed.results.store import ResultsStore")
    assert "my-mlp digits-linf 100 of 449 points; status partial" in read and "clean_correct" in read
    exported = output_of(outputs, "from benchbed.results.exports import")
    assert "(digits, Linf $\\epsilon = 0.1$, 100 test points)" in exported
    assert "index.html" in exported and (workdir / "site" / "index.html").is_file()
