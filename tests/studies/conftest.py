"""Fixtures of the energy-study tests: a tiny digits model and a few test points, one torch thread."""
from __future__ import annotations

import pytest
import torch

from benchbed.builtin.dataset_loaders import load_digits_split


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def few_points():
    test = load_digits_split("test")
    return test.images[:24].clone(), test.labels[:24].clone()
