"""docs/writing-a-plugin.md, followed literally.

Every fenced block whose info string says ``guide`` is run in order in an empty folder:
``<lang> guide file=PATH`` blocks are written to PATH, ``bash guide`` blocks run with bash,
``python guide`` blocks (without a file) run with python. The guide's ``pip install`` goes into a
folder of the test (``PIP_TARGET``, with ``PYTHONPATH`` pointing at it), not into the environment,
so nothing is left installed afterwards; the commands themselves are the guide's, unchanged.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INFO = re.compile(r"^(?P<lang>\w+)\s+guide(?:\s+file=(?P<file>\S+))?\s*$")


def guide_blocks(text: str) -> list[dict]:
    blocks = []
    for match in FENCE.finditer(text):
        info = INFO.match(match["info"].strip())
        if info:
            blocks.append({"lang": info["lang"], "file": info["file"], "body": match["body"]})
    return blocks


def test_guide_blocks_are_found():
    blocks = guide_blocks(GUIDE.read_text())
    files = [b["file"] for b in blocks if b["file"]]
    assert "my-digits-models/pyproject.toml" in files
    assert "my-digits-models/my_digits_models/plugin.py" in files
    commands = "\n".join(b["body"] for b in blocks if b["lang"] == "bash")
    assert "pip install ./my-digits-models" in commands and "benchbed models" in commands
    # the illustrative blocks (no `guide`) are not run
    assert not any("/path/to/your/weights.pt" in b["body"] for b in blocks)


def _environment(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    env = dict(os.environ)
    env.update({
        "PIP_TARGET": str(site),             # the guide's `pip install` lands here ...
        "PIP_NO_DEPS": "1",                  # ... without re-installing benchbed and torch there
        "PIP_NO_BUILD_ISOLATION": "0",       # build with the installed setuptools: offline
        "PIP_NO_INDEX": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONPATH": os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "BENCHBED_PLUGINS": "my-digits-models",  # only the guide's plugin: fast, and independent of others
        "TQDM_DISABLE": "1",
    })
    env.pop("BENCHBED_PLUGIN_FILES", None)
    return env


@pytest.mark.slow
def test_following_the_guide_gives_a_plugin_that_benchbed_models_lists(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = _environment(tmp_path)
    outputs = []
    for i, block in enumerate(guide_blocks(GUIDE.read_text())):
        if block["file"]:
            path = workdir / block["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block["body"])
            continue
        if block["lang"] == "bash":
            command = ["bash", "-euo", "pipefail", "-c", block["body"]]
        elif block["lang"] == "python":
            script = workdir / f"_guide_block_{i}.py"
            script.write_text(block["body"])
            command = [sys.executable, str(script)]
        else:
            raise AssertionError(f"guide block {i} has language {block['lang']!r} and no file=")
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, (f"guide block {i} failed:\n{block['body']}\n--- stdout\n{done.stdout}"
                                      f"\n--- stderr\n{done.stderr}")
        outputs.append((block["body"], done.stdout))

    listed = [out for body, out in outputs if body.lstrip().startswith("benchbed models")]
    assert listed, "the guide never runs `benchbed models`"
    assert "tiny-digits-net" in listed[0] and "my-digits-models" in listed[0]
    assert "digits" in listed[0] and "TinyDigitsNet" in listed[0]
    python_out = [out for body, out in outputs if "load_model" in body]
    assert "['tiny-digits-net']" in python_out[0] and "in eval mode: True" in python_out[0]

    # the installed plugin is where the test put it, with its checkpoint; the environment is untouched
    site = tmp_path / "site"
    assert (site / "my_digits_models" / "checkpoints" / "tiny-digits-net.pt").is_file()
    assert list(site.glob("my_digits_models-*.dist-info"))
    with pytest.raises(md.PackageNotFoundError):
        md.distribution("my-digits-models")
