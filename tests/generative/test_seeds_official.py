"""The PCA and Gaussian seeds against Mirza et al.'s rules, re-computed here with sklearn / numpy (issue 18).

PCA: sklearn's PCA on the class's flattened images, keep ``components_[:argmin(cum < r)]`` (the
components whose cumulative explained-variance ratio stays strictly below r), x0 = mean +
(singular_values * N(0, 1) * 0.005) @ components. Gaussian: covariance ``sub.T @ sub / n`` + 1e-4 I."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from benchbed.generative.seeds import GAUSSIAN_JITTER, fit_seeds


def _official_cut(images: np.ndarray, r: float) -> tuple[int, np.ndarray]:
    pca = PCA(n_components=None).fit(images)
    cum = np.cumsum(pca.explained_variance_) / pca.explained_variance_.sum()
    k = int(np.argmin(cum < r))
    return k, pca.singular_values_[:k]


def test_pca_component_count_and_noise_scale_match_sklearn(digits_train):
    for r in (0.8, 0.9, 0.95):
        model = fit_seeds("pca", digits_train.images, digits_train.labels, 10, retained_variance=r)
        for y, basis in enumerate(model.classes):
            x = digits_train.images[digits_train.labels == y].reshape(-1, 64).double().numpy()
            k, singular = _official_cut(x, r)
            assert basis.directions.shape[0] == k, (r, y)
            np.testing.assert_allclose(basis.singular_values.numpy(), singular, rtol=1e-4, atol=1e-5)


def test_gaussian_seed_covariance_is_over_n_plus_jitter():
    g = torch.Generator().manual_seed(0)
    images = 0.5 + 0.05 * torch.randn((10, 1, 2, 2), generator=g)  # tiny classes: n vs n - 1 is 25%
    labels = torch.arange(10) % 2
    model = fit_seeds("gaussian", images, labels, 2)
    x = images[labels == 1].reshape(5, 4).double()
    sub = x - x.mean(0)
    want = (sub.T @ sub / len(x)).numpy() + GAUSSIAN_JITTER * np.eye(4)  # Mirza et al.'s category_mean
    draws = model.draw(torch.full((200000,), 1), torch.Generator().manual_seed(1)).reshape(-1, 4).double()
    assert draws.min() > 0 and draws.max() < 1  # far from the clip
    np.testing.assert_allclose(np.cov(draws.numpy(), rowvar=False), want, rtol=0.03, atol=2e-5)
