"""Issue 20's acceptance: MNIST from torchvision by name (files pre-placed, offline) plus a model file,
registered in at most 15 lines of plugin code, evaluated end to end, and on the pages."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from eco_helpers import read_idx, write_fake_mnist

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_plugin"
N = 16


def code_lines(path: Path) -> int:
    """Lines of code: no blank lines, comments or the module docstring."""
    tree = ast.parse(path.read_text())
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc is not None else set()
    return sum(1 for i, line in enumerate(path.read_text().splitlines(), 1)
               if i not in skip and line.strip() and not line.strip().startswith("#"))


def test_the_plugin_is_at_most_15_lines():
    assert code_lines(FIXTURE / "plugin.py") <= 15


@pytest.mark.slow
def test_mnist_by_name_offline_runs_a_track_and_renders_the_pages(tmp_path):
    data = tmp_path / "data"
    write_fake_mnist(data, n_train=40, n_test=32, compress=True)  # the .gz files as torchvision downloads them
    plugin_dir = shutil.copytree(FIXTURE, tmp_path / "my-mnist")
    env = {**os.environ, "BENCHBED_PLUGINS": "", "BENCHBED_PROGRESS": "off", "BENCHBED_CACHE": str(tmp_path / "c")}
    env.pop("BENCHBED_PLUGIN_FILES", None)
    cmd = [sys.executable, "-m", "benchbed", "run", "--plugin", str(plugin_dir / "plugin.py"), "--track", "mnist-linf",
           "--model", "mnist-net", "--n-examples", str(N), "--data-dir", str(data), "--out", str(tmp_path / "res"),
           "--site", str(tmp_path / "site"), "--threads", "1", "--no-progress"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]

    [record_path] = [p for p in (tmp_path / "res").rglob("mnist-net*.json")]
    record = json.loads(record_path.read_text())
    assert record["n_examples"] == N and record["track"] == "mnist-linf"

    # the same numbers by hand: the idx files read without torchvision, the checkpoint in plain torch
    images = read_idx(data / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz")[:N]
    labels = read_idx(data / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz")[:N]
    net = torch.nn.Sequential(torch.nn.AvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(49, 10))
    net.load_state_dict(torch.load(FIXTURE / "mnist-net.pt", weights_only=True))
    with torch.no_grad():
        predicted = net(torch.from_numpy(images.copy()).float()[:, None] / 255.0).argmax(1).numpy()
    assert record["metrics"]["clean_accuracy"] == pytest.approx(100.0 * float(np.mean(predicted == labels)))
    assert 0.0 <= record["metrics"]["robust_accuracy"] <= record["metrics"]["clean_accuracy"]

    pages = {p.name: p.read_text() for p in (tmp_path / "site").rglob("*.html")}
    assert any("mnist-net" in text and "mnist-linf" in text for text in pages.values())
    assert any("mnist-linf" in name for name in pages) and any("mnist-net" in name for name in pages), sorted(pages)
