"""Dataset helpers (benchbed.plugin): numpy arrays, an image folder, torchvision's datasets by name;
a test-only dataset, and preflight naming a metric that needs the training split."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from eco_helpers import read_idx, write_fake_mnist
from PIL import Image

import benchbed
from benchbed.contracts.errors import ConfigError, DatasetNotFoundError
from benchbed.engine.preflight import PreflightError
from benchbed.plugin import TrackSpec, hookimpl, image_folder_dataset, numpy_dataset, torchvision_dataset
from benchbed.registry import PluginHost

RNG = np.random.default_rng(0)


# -- numpy arrays -------------------------------------------------------------------------------------------
def test_npz_in_every_layout_gives_the_same_images(tmp_path):
    x = RNG.integers(0, 256, size=(6, 3, 4, 5), dtype=np.uint8)
    y = np.arange(6) % 3
    (tmp_path / "a").mkdir()
    np.savez(tmp_path / "a" / "chw.npz", images=x, labels=y)
    np.savez(tmp_path / "a" / "hwc.npz", images=np.transpose(x, (0, 2, 3, 1)), labels=y)
    np.savez(tmp_path / "a" / "float.npz", images=x.astype(np.float64) / 255.0, labels=y)
    want = torch.from_numpy(x.astype(np.float32) / 255.0)
    for name in ("chw", "hwc", "float"):
        spec = numpy_dataset("a", 3, (3, 4, 5), files={"test": f"{name}.npz"})
        got = spec.load("test", tmp_path)
        assert got.images.dtype == torch.float32 and got.labels.dtype == torch.int64
        torch.testing.assert_close(got.images, want, rtol=0, atol=1e-7)
        assert got.labels.tolist() == y.tolist()
    assert spec.splits == ("test",)


def test_npy_pairs_and_grayscale_without_a_channel_axis(tmp_path):
    x = RNG.integers(0, 256, size=(5, 8, 8), dtype=np.uint8)
    folder = tmp_path / "gray"
    folder.mkdir()
    np.save(folder / "x_test.npy", x)
    np.save(folder / "y_test.npy", np.arange(5))
    spec = numpy_dataset("gray", 5, (1, 8, 8), files={"test": ("x_test.npy", "y_test.npy")}, path=folder)
    got = spec.load("test", None)  # an absolute path: the data folder does not matter
    assert got.images.shape == (5, 1, 8, 8)
    np.testing.assert_array_equal((got.images[:, 0].numpy() * 255).round().astype(np.uint8), x)


@pytest.mark.parametrize("images,labels,message", [
    (np.full((2, 1, 2, 2), 2.0), [0, 1], r"float images must lie in \[0, 1\] \(found values in \[2, 2\]\)"),
    (np.zeros((2, 1, 3, 3), np.uint8), [0, 1], r"shape \(2, 1, 3, 3\) do not match .* \(1, 2, 2\)"),
    (np.zeros((2, 1, 2, 2), np.uint8), [0, 7], r"labels range over 0..7, not 0..1"),
    (np.zeros((2, 1, 2, 2), np.int32), [0, 1], r"dtype int32: store uint8"),
])
def test_bad_arrays_are_one_line_errors(tmp_path, images, labels, message):
    (tmp_path / "bad").mkdir()
    np.savez(tmp_path / "bad" / "test.npz", images=images, labels=np.asarray(labels))
    with pytest.raises(ConfigError, match=message) as caught:
        numpy_dataset("bad", 2, (1, 2, 2), files={"test": "test.npz"}).load("test", tmp_path)
    assert "\n" not in str(caught.value)


def test_missing_file_and_missing_key(tmp_path):
    spec = numpy_dataset("ds", 2, (1, 2, 2))
    assert spec.check("test", tmp_path) == (f"ds: {tmp_path / 'ds' / 'test.npz'} not found (the test split): put "
                                            f"the file(s) there, or point --data-dir / BENCHBED_DATA at the folder "
                                            f"that holds ds/")
    with pytest.raises(DatasetNotFoundError, match="not found"):
        spec.load("test", tmp_path)
    (tmp_path / "ds").mkdir()
    np.savez(tmp_path / "ds" / "test.npz", x=np.zeros((1, 2, 2), np.uint8), y=np.zeros(1, np.int64))
    with pytest.raises(ConfigError, match="no array named 'images', 'labels' \\(it holds 'x', 'y'\\)"):
        spec.load("test", tmp_path)
    assert spec.check("train", tmp_path).startswith("ds: ")  # train declared by default, its file missing


# -- image folder -------------------------------------------------------------------------------------------
def _write_images(root, classes, n=3, size=(6, 5), mode="RGB"):
    arrays = {}
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = RNG.integers(0, 256, size=(size[1], size[0], 3) if mode == "RGB" else (size[1], size[0]),
                             dtype=np.uint8)
            Image.fromarray(a, mode).save(root / c / f"img{i}.png")
            arrays[(c, i)] = a
    return arrays


def test_image_folder_reads_in_torchvisions_order_with_declared_labels(tmp_path):
    arrays = _write_images(tmp_path / "pets" / "test", ["dog", "cat"])
    spec = image_folder_dataset("pets", classes=("dog", "cat"), image_shape=(3, 5, 6), split_folders={"test": "test"})
    got = spec.load("test", tmp_path)
    # torchvision's make_dataset order: class folders sorted (cat, dog), files sorted; labels = declared order
    order = [("cat", i) for i in range(3)] + [("dog", i) for i in range(3)]
    assert got.labels.tolist() == [1, 1, 1, 0, 0, 0]
    want = np.stack([arrays[k] for k in order]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    np.testing.assert_array_equal(got.images.numpy(), want)
    assert spec.class_names == ("dog", "cat") and spec.splits == ("test",)


def test_image_folder_problems_are_one_line(tmp_path):
    _write_images(tmp_path / "pets" / "test", ["dog", "bird"], n=1)
    spec = image_folder_dataset("pets", classes=("dog", "cat"), image_shape=(3, 5, 6))
    problem = spec.check("test", tmp_path)
    assert "lacks class folder(s) cat" in problem and "has undeclared folder(s) bird" in problem
    assert "folder" in spec.check("train", tmp_path) and "not found (the train split)" in spec.check("train", tmp_path)
    small = image_folder_dataset("pets", classes=("dog", "bird"), image_shape=(1, 3, 3), split_folders={"test": "test"})
    with pytest.raises(ConfigError, match="image of 6x5 pixels, the dataset's images are 3x3: .*resize=True"):
        small.load("test", tmp_path)
    resized = image_folder_dataset("pets", classes=("dog", "bird"), image_shape=(1, 3, 3), resize=True,
                                   split_folders={"test": "test"})
    assert resized.load("test", tmp_path).images.shape == (2, 1, 3, 3)


# -- torchvision by name ------------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_by_name_reads_the_idx_files_offline(tmp_path, compress):
    written = write_fake_mnist(tmp_path, n_train=12, n_test=8, compress=compress)
    spec = torchvision_dataset("MNIST", download=False)
    assert (spec.name, spec.num_classes, spec.image_shape) == ("mnist", 10, (1, 28, 28))
    assert spec.check("test", tmp_path) is None
    for split, (images, labels) in written.items():
        got = spec.load(split, tmp_path)
        np.testing.assert_array_equal((got.images[:, 0].numpy() * 255).round().astype(np.uint8), images)
        assert got.labels.tolist() == labels.tolist()
    suffix = ".gz" if compress else ""
    np.testing.assert_array_equal(read_idx(tmp_path / "MNIST" / "raw" / f"t10k-labels-idx1-ubyte{suffix}"),
                                  written["test"][1])


def test_fashion_mnist_and_a_missing_file_offline(tmp_path):
    write_fake_mnist(tmp_path, n_train=4, n_test=4, folder="FashionMNIST")
    assert torchvision_dataset("FashionMNIST", download=False).load("test", tmp_path).images.shape == (4, 1, 28, 28)
    (tmp_path / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte").unlink()
    problem = torchvision_dataset("FashionMNIST", download=False).check("test", tmp_path)
    assert problem.startswith(f"fashionmnist: train-labels-idx1-ubyte (or .gz) not found in "
                              f"{tmp_path / 'FashionMNIST' / 'raw'}: torchvision reads all four idx files there")
    assert "\n" not in problem


def test_download_failure_offline_is_one_line(tmp_path, monkeypatch):
    from urllib.error import URLError

    from torchvision.datasets import MNIST

    def offline(self):
        raise URLError("no network")

    monkeypatch.setattr(MNIST, "download", offline)
    problem = torchvision_dataset("MNIST").check("test", tmp_path)  # download=True: torchvision tries, fails
    assert "not found in" in problem and problem.endswith("(torchvision's download failed: URLError)")
    with pytest.raises(DatasetNotFoundError, match="download failed: URLError"):
        torchvision_dataset("MNIST").load("test", tmp_path)


def test_unknown_torchvision_name():
    with pytest.raises(ConfigError, match="'Mnist' is not one benchbed knows: use one of MNIST, FashionMNIST"):
        torchvision_dataset("Mnist")


# -- a dataset with only a test split ------------------------------------------------------------------------
class OnlyTestSplit:
    def __init__(self, folder):
        self.folder = folder

    @hookimpl
    def register_datasets(self, register):
        register(numpy_dataset("tiny-test-only", 10, (1, 8, 8), files={"test": "test.npz"}, path=self.folder))

    @hookimpl
    def register_tracks(self, register):
        register(TrackSpec(name="tiny-test-only-linf", dataset="tiny-test-only", norm="Linf", eps=0.1, n_examples=20,
                           metrics=("clean_accuracy", "generative")))


def test_a_test_only_dataset_runs_what_needs_no_train_split_and_refuses_the_rest_before_work(tmp_path):
    digits = benchbed.plugin.dataset_split("digits", "test")
    folder = tmp_path / "only-test"
    folder.mkdir()
    np.savez(folder / "test.npz", images=(digits.images[:20].numpy() * 255).round().astype(np.uint8),
             labels=digits.labels[:20].numpy())
    host = PluginHost(load_external=False)
    host.register(OnlyTestSplit(folder), name="test-only")
    reg = host.registry
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    result = benchbed.evaluate(model, track="tiny-test-only-linf", metrics=["clean_accuracy"], device="cpu",
                               progress=False, threads=1, registry=reg)
    with torch.no_grad():
        expected = 100.0 * float((model(digits.images[:20]).argmax(1) == digits.labels[:20]).double().mean())
    assert result["clean_accuracy"] == pytest.approx(expected)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    with pytest.raises(PreflightError) as caught:
        benchbed.evaluate(model, track="tiny-test-only-linf", device="cpu", progress=False, threads=1, registry=reg)
    assert ("metric(s) generative need the training split of dataset 'tiny-test-only' (e.g. the FID reference and "
            "the PCA seeds), which it does not have (its splits: test)") in str(caught.value)
    assert not calls  # said before any work
    with pytest.raises(ConfigError, match="dataset 'tiny-test-only' has no train split \\(it has: test\\)"):
        reg.datasets.get("tiny-test-only").load("train", None)
