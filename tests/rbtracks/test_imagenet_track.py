"""The imagenet-linf track: RobustBench's subset from a val folder, its preprocessing, its preflight."""
from pathlib import Path

import pytest
import torch
from PIL import Image

import benchbed
from benchbed.builtin import imagenet
from benchbed.contracts.errors import DatasetNotFoundError
from benchbed.engine.preflight import preflight
from benchbed.registry import PluginHost

from .rb_files import RES256_CROP224, WNIDS, ids_sha256, tiny_imagenet_model, write_imagenet

N = 4


@pytest.fixture
def imagenet_dir(tmp_path, monkeypatch):
    model = tiny_imagenet_model()
    ids = write_imagenet(tmp_path, N, model)
    monkeypatch.setattr(imagenet, "IDS_SHA256", ids_sha256(tmp_path))
    return tmp_path, ids, model


def reference(data_dir: Path, ids):
    """RobustBench's pipeline on each listed file, label = the wnid's index among the sorted wnids."""
    images = []
    for name in ids:
        with Image.open(data_dir / "imagenet" / "val" / name) as image:
            images.append(RES256_CROP224(image.convert("RGB")))
    return torch.stack(images), torch.tensor([WNIDS.index(name.split("/")[0]) for name in ids])


def test_loader_reads_the_listed_files_in_order_with_robustbench_preprocessing(imagenet_dir):
    data_dir, ids, _ = imagenet_dir
    got = imagenet.load_imagenet("test", data_dir)
    x, y = reference(data_dir, ids)
    assert got.images.shape == (N, 3, 224, 224) and got.images.dtype == torch.float32
    assert torch.equal(got.images, x) and torch.equal(got.labels, y)


def test_track_end_to_end_matches_a_direct_computation(imagenet_dir):
    data_dir, ids, model = imagenet_dir
    result = benchbed.evaluate(model, track="imagenet-linf", n_examples=N, metrics=["clean_accuracy"],
                               data_dir=data_dir, device="cpu", progress=False, name="tiny",
                               registry=PluginHost(load_external=False).registry)
    x, y = reference(data_dir, ids)
    with torch.no_grad():
        direct = 100.0 * float((model(x).argmax(1) == y).float().mean())
    assert direct == 50.0  # even points filed under the predicted class, odd ones not
    assert result["clean_accuracy"] == pytest.approx(direct)
    assert "Res256Crop224" in result.record.track_info["description"]


def test_missing_list_offline_is_one_line_saying_where_to_put_it(tmp_path):
    problem = imagenet.check_imagenet("test", tmp_path)
    where = tmp_path / "imagenet" / imagenet.IDS_FILE
    assert problem is not None and "\n" not in problem
    assert str(where) in problem and imagenet.IDS_URL in problem and "download failed (URLError)" in problem
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        imagenet.load_imagenet("test", tmp_path)


def test_altered_list_is_refused(imagenet_dir, monkeypatch):
    data_dir, _, _ = imagenet_dir
    monkeypatch.setattr(imagenet, "IDS_SHA256", "0" * 64)
    problem = imagenet.check_imagenet("test", data_dir)
    assert "is not RobustBench's list" in problem and "delete it" in problem


def test_download_goes_into_the_data_cache_and_is_checked(tmp_path, monkeypatch):
    body = b"n00000001/ILSVRC2012_val_00000001.JPEG"

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return body

    seen = []
    monkeypatch.setattr(imagenet.urllib.request, "urlopen", lambda url, timeout: seen.append(url) or Response())
    monkeypatch.setattr(imagenet, "IDS_SHA256", imagenet.sha256_bytes(body))
    assert imagenet.subset_ids(tmp_path) == ["n00000001/ILSVRC2012_val_00000001.JPEG"]
    assert seen == [imagenet.IDS_URL] and (tmp_path / "imagenet" / imagenet.IDS_FILE).read_bytes() == body


def test_preflight_names_the_missing_images_and_class_folders(imagenet_dir):
    data_dir, ids, _ = imagenet_dir
    reg = PluginHost(load_external=False).registry
    track = reg.tracks.get("imagenet-linf")
    assert preflight(track, ["clean_accuracy"], reg, data_dir) == []
    (data_dir / "imagenet" / "val" / ids[1]).unlink()
    (problem,) = preflight(track, ["clean_accuracy"], reg, data_dir)
    assert f"1 of the {N} images RobustBench evaluates are missing" in problem and ids[1] in problem
    empty = data_dir / "elsewhere"
    empty.mkdir()
    (problem,) = preflight(track, ["clean_accuracy"], reg, empty)
    assert "imagenet_test_image_ids.txt" in problem


def test_class_folders_counted(tmp_path, monkeypatch):
    val = tmp_path / "imagenet" / "val"
    for wnid in WNIDS[:10]:
        (val / wnid).mkdir(parents=True)
    (tmp_path / "imagenet" / imagenet.IDS_FILE).write_text("n00000001/a.JPEG")
    monkeypatch.setattr(imagenet, "IDS_SHA256", ids_sha256(tmp_path))
    problem = imagenet.check_imagenet("test", tmp_path)
    assert "has 10 class folders, expected the 1000 ILSVRC2012 wnids" in problem
    assert imagenet.check_imagenet("train", tmp_path).startswith("imagenet: benchbed's ImageNet has only")


def test_subset_size_constant_matches_the_shipped_track():
    reg = PluginHost(load_external=False).registry
    track = reg.tracks.get("imagenet-linf")
    assert (track.n_examples, track.eps, track.norm) == (5000, 4 / 255, "Linf")
    assert reg.datasets.get("imagenet").image_shape == (3, 224, 224)
