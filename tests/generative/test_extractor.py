import pytest
import torch

from benchbed.contracts.checkpoints import verify_sha256
from benchbed.contracts.errors import ChecksumError
from benchbed.generative import extractor
from benchbed.generative.fidelity import ensure_extractor, to_uint8


def test_shipped_weights_match_the_recorded_checksum_and_classify_digits():
    from benchbed.builtin.dataset_loaders import load_digits_split

    verify_sha256(extractor.WEIGHTS_PATH, extractor.WEIGHTS_SHA256)
    net = extractor.load_net()
    test = load_digits_split("test")
    with torch.no_grad():
        features, logits = net.features_and_logits(extractor.uint8_to_unit(to_uint8(test.images)))
    assert (logits.argmax(1) == test.labels).float().mean() > 0.95
    assert features.shape == (len(test), 128)


def test_a_tampered_checkpoint_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "digits_extractor.pt"
    bad.write_bytes(extractor.WEIGHTS_PATH.read_bytes() + b"x")
    monkeypatch.setattr(extractor, "WEIGHTS_PATH", bad)
    with pytest.raises(ChecksumError, match="sha256"):
        extractor.load_net()


def test_registered_with_torch_fidelity():
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    cls = ensure_extractor("digits-cnn")
    assert FEATURE_EXTRACTORS_REGISTRY["digits-cnn"] is cls
    assert cls.get_default_feature_layer_for_metric("isc") == "logits"
    assert cls.get_default_feature_layer_for_metric("fid") == "features"
    fe = cls("digits-cnn", ["features", "logits"])
    grey = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    rgb = grey.expand(-1, 3, -1, -1)
    a, b = fe(grey), fe(rgb)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # grey == RGB with equal channels


@pytest.mark.slow
def test_training_recipe_reproduces_a_recorded_result_bit_for_bit(tmp_path):
    """The recipe retrains to recorded bytes: the shipped file's on the machine that trained it, and the
    recorded retrain result of each CPU kind it was checked on. On an unrecorded kind, the bytes can
    differ by float32 rounding: then the test checks determinism (two retrains agree) and skips the rest."""
    from benchbed.generative import train_extractor

    state, acc = train_extractor.train(log=lambda message: None)
    digest = train_extractor.save(state, tmp_path / "w.pt")
    assert acc > 95
    if digest not in extractor.RETRAIN_SHA256:
        again, _ = train_extractor.train(log=lambda message: None)
        assert train_extractor.save(again, tmp_path / "w2.pt") == digest, "the recipe is not deterministic"
        pytest.skip(f"this CPU kind retrains the extractor to {digest[:12]}…, not a recorded result "
                    f"({', '.join(d[:12] for d in extractor.RETRAIN_SHA256)}); determinism checked instead")
