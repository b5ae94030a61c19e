import pickle
import urllib.error

import numpy as np
import pytest
import torch

from benchbed import registry as plugin_registry
from benchbed.builtin.dataset_loaders import digits_split_indices, load_digits_split
from benchbed.contracts.errors import DatasetNotFoundError


def test_digits_split_is_fixed_and_disjoint():
    train, test = digits_split_indices("train"), digits_split_indices("test")
    assert len(train) == 1348 and len(test) == 449
    assert set(train).isdisjoint(test) and len(set(train) | set(test)) == 1797
    assert (test % 4 == 3).all()


def test_digits_images_are_unit_range_nchw():
    data = load_digits_split("test")
    assert data.images.shape == (449, 1, 8, 8) and data.images.dtype == torch.float32
    assert float(data.images.min()) == 0.0 and float(data.images.max()) == 1.0
    assert data.labels.dtype == torch.int64 and set(data.labels.tolist()) == set(range(10))
    again = load_digits_split("test")
    assert torch.equal(data.images, again.images) and torch.equal(data.labels, again.labels)


def _write_fake_cifar10(root, n_per_batch=6):
    """Files in torchvision's CIFAR-10 python format (pickled dicts of uint8 rows)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n_per_batch)]
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": data, "labels": labels}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    return folder


def _trust_files(monkeypatch, cls, folder, lists=("train_list", "test_list")):
    """Point torchvision's md5 table at the test's own files, so its real integrity check passes."""
    from torchvision.datasets.utils import calculate_md5

    for attr in lists:
        entries = [[name, calculate_md5(str(folder / name))] for name, _ in getattr(cls, attr)]
        monkeypatch.setattr(cls, attr, entries)
    meta = dict(cls.meta)
    meta["md5"] = calculate_md5(str(folder / meta["filename"]))
    monkeypatch.setattr(cls, "meta", meta)


def test_cifar10_loads_torchvision_files_from_data_dir(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    folder = _write_fake_cifar10(tmp_path)
    _trust_files(monkeypatch, CIFAR10, folder)
    test = plugin_registry.registry().datasets.get("cifar10").load("test", tmp_path)
    assert test.images.shape == (6, 3, 32, 32)
    raw = pickle.load(open(folder / "test_batch", "rb"))
    expected = torch.from_numpy(raw["data"].reshape(6, 3, 32, 32)).float() / 255
    assert torch.equal(test.images, expected)
    assert test.labels.tolist() == raw["labels"]
    assert len(plugin_registry.registry().datasets.get("cifar10").load("train", tmp_path)) == 30


def test_svhn_loads_mat_files(tmp_path, monkeypatch):
    import scipy.io
    from torchvision.datasets import SVHN
    from torchvision.datasets.utils import calculate_md5

    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(32, 32, 3, 5), dtype=np.uint8)
    y = np.array([[10], [1], [2], [3], [10]], dtype=np.uint8)  # SVHN stores digit 0 as label 10
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": X, "y": y})
    split_list = {k: list(v) for k, v in SVHN.split_list.items()}
    split_list["test"][2] = calculate_md5(str(tmp_path / "test_32x32.mat"))
    monkeypatch.setattr(SVHN, "split_list", split_list)
    data = plugin_registry.registry().datasets.get("svhn").load("test", tmp_path)
    assert data.images.shape == (5, 3, 32, 32)
    assert data.labels.tolist() == [0, 1, 2, 3, 0]
    assert torch.equal(data.images[0], torch.from_numpy(X[..., 0]).permute(2, 0, 1).float() / 255)


def test_missing_cifar_offline_names_file_and_folder(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(tv_utils, "urlretrieve", offline, raising=False)
    monkeypatch.setattr(tv_utils, "_urlretrieve", offline, raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        plugin_registry.registry().datasets.get("cifar100").load("test", tmp_path)
    message = str(info.value)
    assert "cifar-100-python.tar.gz" in message and str(tmp_path) in message
    assert "\n" not in message
