"""Readable, stable page addresses: tracks/<name>.html, models/<name>.html, a suffix only on collisions."""
import hashlib

from benchbed.leaderboard import pages as views


def suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def test_pages_are_named_after_tracks_and_models():
    assert views.track_page("digits-linf") == "tracks/digits-linf.html"
    assert views.model_page("rb/cifar10-linf/Standard") == "models/rb/cifar10-linf/Standard.html"
    assert views.model_page("my model (v2)") == "models/my_model__v2_.html"
    assert views.page_root("index.html") == ""
    assert views.page_root("models/rb/cifar10-linf/Standard.html") == "../../../"


def test_only_colliding_names_get_a_suffix():
    names = ["Standard", "standard", "a b", "a_b", "digits-cnn", "x", "x.records"]
    stems = views.page_stems(names)
    assert stems["digits-cnn"] == "digits-cnn"
    assert stems["Standard"] == f"Standard-{suffix('Standard')}"
    assert stems["standard"] == f"standard-{suffix('standard')}"
    assert stems["a b"] == f"a_b-{suffix('a b')}" and stems["a_b"] == f"a_b-{suffix('a_b')}"
    # x.records.html would sit beside x's download x.records.json
    assert stems["x"] == f"x-{suffix('x')}" and stems["x.records"] == f"x.records-{suffix('x.records')}"
    assert len(set(stems.values())) == len(names)
    with views.page_names(["t"], names):
        assert views.model_page("standard") == f"models/standard-{suffix('standard')}.html"
        assert views.model_page("digits-cnn") == "models/digits-cnn.html" and views.track_page("t") == "tracks/t.html"
    assert views.model_page("standard") == "models/standard.html"  # outside a site: no collisions known


def test_hidden_or_dot_segments_cannot_appear():
    assert views.readable_stem(".hidden/..x") == "hidden/x"
    assert views.readable_stem("...") == "_"
