import pytest

from benchbed.builtin import imagenet


@pytest.fixture(autouse=True)
def offline_imagenet_list(monkeypatch):
    """No installed robustbench copy of the list and no network: only the files a test writes count."""
    monkeypatch.setattr(imagenet, "_installed_ids_file", lambda: None)
    for var in (imagenet.ENV_ROOT, imagenet.ENV_IDS, "BENCHBED_IMAGENET_C_DIR", "BENCHBED_DATA"):
        monkeypatch.delenv(var, raising=False)

    def no_network(*args, **kwargs):
        import urllib.error

        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(imagenet.urllib.request, "urlopen", no_network)
