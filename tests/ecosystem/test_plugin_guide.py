"""docs/writing-a-plugin.md, followed literally.

Every fenced block whose info string says ``guide`` is run in order in an empty folder:
``<lang> guide file=PATH`` blocks are written to PATH, ``bash guide`` blocks run with bash,
``python guide`` blocks (without a file) run with python. The guide's ``pip install`` goes into a
folder of the test (``PIP_TARGET``, with ``PYTHONPATH`` pointing at it), not into the environment,
so nothing is left installed afterwards; the commands themselves are the guide's, unchanged.
"""
from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # guide_runner (any import mode)

from guide_runner import DOCS, guide_blocks, guide_environment, output_of, run_guide  # noqa: E402

GUIDE = DOCS / "writing-a-plugin.md"


def test_guide_blocks_are_found():
    blocks = guide_blocks(GUIDE.read_text())
    files = [b["file"] for b in blocks if b["file"]]
    assert "my-digits-models/pyproject.toml" in files
    assert "my-digits-models/my_digits_models/plugin.py" in files
    commands = "\n".join(b["body"] for b in blocks if b["lang"] == "bash")
    assert "pip install ./my-digits-models" in commands and "benchbed models" in commands
    # the illustrative blocks (no `guide`) are not run
    assert not any("/path/to/your/weights.pt" in b["body"] for b in blocks)


@pytest.mark.slow
def test_following_the_guide_gives_a_plugin_that_benchbed_models_lists(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    # only the guide's plugin: fast, and independent of others
    outputs = run_guide(GUIDE, workdir, guide_environment(tmp_path, "my-digits-models"), timeout=240)

    local = output_of(outputs, "# before packaging")  # the plugin.py as a local file: no relative imports
    assert "tiny-digits-net" in local and "file:plugin.py" in local
    listed = output_of(outputs, "benchbed models")
    assert "tiny-digits-net" in listed and "my-digits-models" in listed
    assert "digits" in listed and "TinyDigitsNet" in listed
    python_out = [out for body, out in outputs if "load_model" in body]
    assert "['tiny-digits-net']" in python_out[0] and "in eval mode: True" in python_out[0]

    # the installed plugin is where the test put it, with its checkpoint; the environment is untouched
    site = tmp_path / "site-packages"
    assert (site / "my_digits_models" / "checkpoints" / "tiny-digits-net.pt").is_file()
    assert list(site.glob("my_digits_models-*.dist-info"))
    with pytest.raises(md.PackageNotFoundError):
        md.distribution("my-digits-models")
