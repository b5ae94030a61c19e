"""The PCA seed fit: randomized top components for large classes, and the on-disk cache."""
import pytest
import torch

from benchbed.generative import seeds as seeds_module
from benchbed.generative.seeds import _class_basis, _top_basis, cached_fit_seeds, fit_seeds, kept_components


def _smooth_images(n, generator, side=24, channels=3):
    """Low-pass noise (coarse noise upsampled): a decaying spectrum like natural images'."""
    coarse = torch.rand((n, channels, 6, 6), generator=generator)
    fine = torch.nn.functional.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    return (fine + 0.02 * torch.rand((n, channels, side, side), generator=generator)).clamp(0, 1)


def test_randomized_top_components_match_the_full_svd():
    x = _smooth_images(700, torch.Generator().manual_seed(0))  # 700 x 1728: above the exact limit
    mean, s, vh = _top_basis(x, 0.95)
    m_ref, s_ref, vh_ref = _class_basis(x)
    k = kept_components(s_ref, 0.95)
    assert vh.shape[0] >= k  # enough components were computed to reach 95%
    torch.testing.assert_close(mean, m_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(s[:k], s_ref[:k], rtol=1e-3, atol=1e-3)
    # the same leading directions up to sign: |<u_i, u_ref_i>| ~ 1 for the well-separated top ones
    overlap = (vh[:5] * vh_ref[:5]).sum(1).abs()
    assert torch.all(overlap > 0.999)


def test_large_classes_keep_95_percent_of_their_variance():
    g = torch.Generator().manual_seed(1)
    x = _smooth_images(1200, g)
    labels = torch.arange(1200) % 2
    model = fit_seeds("pca", x, labels, 2)
    for y, basis in enumerate(model.classes):
        xc = x[labels == y].reshape(600, -1).double()
        xc = xc - xc.mean(0)
        kept = float(basis.singular_values.double().pow(2).sum()) / float(xc.pow(2).sum())
        s_all = torch.linalg.svdvals(xc)
        one_more = float(s_all[:len(basis.singular_values) + 1].pow(2).sum()) / float(xc.pow(2).sum())
        assert kept < 0.95 <= one_more + 1e-6  # every component strictly below 95%, not the one crossing it
    a = model.draw(labels[:20], torch.Generator().manual_seed(3))
    b = fit_seeds("pca", x, labels, 2).draw(labels[:20], torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # deterministic whatever the global RNG


def test_the_cache_fits_once_and_gives_the_same_seeds(tmp_path, digits_train, monkeypatch):
    calls = []
    real = seeds_module.fit_seeds
    monkeypatch.setattr(seeds_module, "fit_seeds", lambda *a, **k: calls.append(1) or real(*a, **k))
    args = ("pca", digits_train.images, digits_train.labels, 10)
    first = cached_fit_seeds(*args, cache_dir=tmp_path, dataset="digits")
    second = cached_fit_seeds(*args, cache_dir=tmp_path, dataset="digits", scale=0.01)
    assert len(calls) == 1 and second.scale == 0.01
    direct = real(*args)
    for got, ref in zip(second.classes, direct.classes):
        assert torch.equal(got.mean, ref.mean) and torch.equal(got.directions, ref.directions)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(first.draw(digits_train.labels[:50], gen()), direct.draw(digits_train.labels[:50], gen()))
    changed = digits_train.images.clone()
    changed[0, 0, 0, 0] += 0.5
    cached_fit_seeds("pca", changed, digits_train.labels, 10, cache_dir=tmp_path, dataset="digits")
    cached_fit_seeds(*args, cache_dir=tmp_path, dataset="digits", retained_variance=0.9)
    assert len(calls) == 3 and len(list((tmp_path / "seeds").glob("*.pt"))) == 3  # one pixel, one setting: new fits


def test_a_corrupt_cache_file_is_refitted(tmp_path, digits_train):
    args = ("pca", digits_train.images, digits_train.labels, 10)
    cached_fit_seeds(*args, cache_dir=tmp_path)
    (path,) = (tmp_path / "seeds").glob("*.pt")
    path.write_bytes(b"not a checkpoint")
    model = cached_fit_seeds(*args, cache_dir=tmp_path)
    assert model.components() == fit_seeds(*args).components()


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_other_kinds_go_through_the_cache_too(kind, tmp_path, digits_train):
    model = cached_fit_seeds(kind, digits_train.images, digits_train.labels, 10, cache_dir=tmp_path)
    assert model.kind == kind
