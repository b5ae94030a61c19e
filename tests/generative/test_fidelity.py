import urllib.error

import pytest
import torch
import torch_fidelity
from torch import nn

from benchbed.contracts.errors import BenchbedError
from benchbed.generative import fidelity
from benchbed.generative.fidelity import compute_fidelity, reference_cache_name, to_uint8
from benchbed.generative.grid import save_pngs
from benchbed.generative.sampling import draw_samples

TINY = "benchbed-test-tiny"


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        h = nn.functional.avg_pool2d(h, 2).flatten(1)
        return h, self.fc(h)


def _register_tiny():
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if TINY in FEATURE_EXTRACTORS_REGISTRY:
        return

    class Tiny(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net = TinyNet()

        def forward(self, x):
            h, logits = self.net(x.float().mean(1, keepdim=True) / 255.0)
            out = {"h": h, "logits": logits}
            return tuple(out[f] for f in self.features_list)

        @staticmethod
        def get_provided_features_list():
            return ("h", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits", "fid": "h", "kid": "h", "prc": "h"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

    torch_fidelity.register_feature_extractor(TINY, Tiny)


@pytest.fixture(scope="module")
def samples_and_reference(tiny_digits_mlp):
    from benchbed.builtin.dataset_loaders import load_digits_split
    from benchbed.registry import PluginHost

    reg = PluginHost(load_external=False).registry
    track = reg.tracks.get("digits-linf")
    import dataclasses

    track = track.replace(generation=dataclasses.replace(track.generation, steps=10))
    samples, labels, _ = draw_samples(tiny_digits_mlp, track, reg.datasets.get("digits"), reg, "cpu", n=120,
                                      progress=False)
    reference = load_digits_split("train").images[:300]
    return samples, labels, reference


@pytest.mark.parametrize("extractor", ["digits-cnn", TINY])
def test_benchbed_equals_a_direct_torch_fidelity_call_on_saved_pngs(extractor, samples_and_reference, tmp_path):
    _register_tiny()
    samples, labels, reference = samples_and_reference
    ours = compute_fidelity(samples, reference, extractor=extractor, device="cpu", dataset="digits", seed=5,
                            batch_size=64, kid_subsets=20, cache_dir=tmp_path / "cache")
    save_pngs(samples, labels, tmp_path / "samples")
    save_pngs(reference, torch.zeros(len(reference), dtype=torch.int64), tmp_path / "reference")
    direct = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "samples"), input2=str(tmp_path / "reference"), cuda=False, isc=True, fid=True,
        kid=True, feature_extractor=extractor, kid_subset_size=120, kid_subsets=20, rng_seed=5, batch_size=64,
        cache=False, verbose=False, save_cpu_ram=True)
    assert ours.inception_score == pytest.approx(direct["inception_score_mean"], rel=1e-9, abs=1e-12)
    assert ours.inception_score_std == pytest.approx(direct["inception_score_std"], rel=1e-9, abs=1e-12)
    assert ours.fid == pytest.approx(direct["frechet_inception_distance"], rel=1e-9, abs=1e-12)
    assert ours.kid == pytest.approx(direct["kernel_inception_distance_mean"], rel=1e-9, abs=1e-12)
    assert ours.info["n_samples"] == 120 and ours.info["kid_subset_size"] == 120
    # the second call reads the reference features from the content-keyed cache and agrees exactly
    again = compute_fidelity(samples, reference, extractor=extractor, device="cpu", dataset="digits", seed=5,
                             batch_size=64, kid_subsets=20, cache_dir=tmp_path / "cache")
    assert (again.fid, again.kid, again.inception_score) == (ours.fid, ours.kid, ours.inception_score)
    cached = sorted(p.name for p in (tmp_path / "cache" / "fidelity").iterdir())
    assert cached and all(p.startswith(ours.info["reference"]["cache_name"]) for p in cached)


def test_reference_cache_key_is_the_content_not_the_name(digits_train):
    ref = digits_train.images[:200]
    key = dict(dataset="digits", split="train", extractor="digits-cnn", extractor_id="w1", layers=["features"])
    base = reference_cache_name(ref, **key)
    assert reference_cache_name(ref.clone(), **key) == base
    changed = ref.clone()
    level = int(to_uint8(changed[17, 0, 3, 4]))
    changed[17, 0, 3, 4] = (level + 1 if level < 255 else level - 1) / 255.0  # one pixel, one grey level
    assert reference_cache_name(changed, **key) != base
    assert reference_cache_name(ref[:199], **key) != base
    for field, value in (("split", "test"), ("extractor_id", "w2"), ("layers", ["logits"]),
                         ("dataset", "digits2"), ("extractor", "other")):
        assert reference_cache_name(ref, **{**key, field: value}) != base, field


def test_changing_the_extractor_weights_changes_the_key(tmp_path):
    from benchbed.generative.extractor import WEIGHTS_PATH, WEIGHTS_SHA256

    shipped = fidelity.extractor_identity("digits-cnn", None)
    assert WEIGHTS_SHA256 in shipped
    other = tmp_path / "w.pt"
    state = torch.load(WEIGHTS_PATH, weights_only=True)
    state["head.bias"] = state["head.bias"] + 1
    torch.save(state, other)
    assert fidelity.extractor_identity("digits-cnn", str(other)) != shipped


def test_offline_without_inception_weights_is_one_clear_line(monkeypatch, tmp_path, digits_train):
    monkeypatch.delenv(fidelity.ENV_INCEPTION, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    x = digits_train.images[:20]
    with pytest.raises(BenchbedError) as err:
        compute_fidelity(x, x, extractor="inception-v3-compat", device="cpu", dataset="digits")
    message = str(err.value)
    assert "\n" not in message
    assert "BENCHBED_INCEPTION_WEIGHTS" in message and "could not be downloaded" in message
    assert "weights-inception-2015-12-05" in message


def test_inception_weights_env_var_must_name_a_file(monkeypatch, tmp_path, digits_train):
    monkeypatch.setenv(fidelity.ENV_INCEPTION, str(tmp_path / "missing.pth"))
    x = digits_train.images[:20]
    with pytest.raises(BenchbedError, match="missing.pth.*does not exist"):
        compute_fidelity(x, x, extractor="inception-v3-compat", device="cpu", dataset="digits")


def test_unknown_extractor_is_named(digits_train):
    x = digits_train.images[:20]
    with pytest.raises(BenchbedError, match="unknown feature extractor 'nope'"):
        compute_fidelity(x, x, extractor="nope", device="cpu", dataset="digits")
