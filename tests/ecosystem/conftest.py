"""Fixtures for the ecosystem tests: a fake CIFAR-10 test split."""
from __future__ import annotations

import pytest
from eco_helpers import md5, write_fake_cifar10


@pytest.fixture
def fake_cifar10(tmp_path, monkeypatch):
    """``make(data=None, labels=None) -> data_dir``: a tiny fake CIFAR-10 test split torchvision accepts.

    torchvision checks the md5 of every CIFAR batch file: the fixture points its lists at the files
    it wrote (and leaves the training batches out, which the test split does not need). Offline.
    """
    from torchvision.datasets import CIFAR10

    def make(data=None, labels=None):
        root = write_fake_cifar10(tmp_path / "data", data, labels)
        folder = root / "cifar-10-batches-py"
        monkeypatch.setattr(CIFAR10, "train_list", [])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(folder / "batches.meta")})
        return root

    return make
