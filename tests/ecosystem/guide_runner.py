"""Running a guide's commands verbatim (docs/writing-a-plugin.md, docs/plugins/*.md, docs/python-api.md).

Every fenced block whose info string says ``guide`` is run in order in an empty folder:
``<lang> guide file=PATH`` blocks are written to PATH, ``bash guide`` blocks run with bash (``-euo
pipefail``), ``python guide`` blocks (without a file) run with python from that folder (so a plugin file
written there imports by its name). Blocks without ``guide`` are illustrations and are not run.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INFO = re.compile(r"^(?P<lang>\w+)\s+guide(?:\s+file=(?P<file>\S+))?\s*$")


def guide_blocks(text: str) -> list[dict]:
    blocks = []
    for match in FENCE.finditer(text):
        info = INFO.match(match["info"].strip())
        if info:
            blocks.append({"lang": info["lang"], "file": info["file"], "body": match["body"]})
    return blocks


def guide_environment(tmp_path: Path, plugins: str) -> dict[str, str]:
    """The environment a guide runs in: only the named external plugins (fast, and independent of what
    else is installed), no progress bars, results and data in the guide's own folder; a guide's
    ``pip install`` lands in a folder of the test (``PIP_TARGET``), not in the environment."""
    site = tmp_path / "site-packages"
    env = dict(os.environ)
    env.update({
        "PIP_TARGET": str(site),
        "PIP_NO_DEPS": "1",                  # no re-install of benchbed and torch there
        "PIP_NO_BUILD_ISOLATION": "0",       # build with the installed setuptools: offline
        "PIP_NO_INDEX": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONPATH": os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "BENCHBED_PLUGINS": plugins,
        "TQDM_DISABLE": "1",
    })
    for name in ("BENCHBED_PLUGIN_FILES", "BENCHBED_RESULTS", "BENCHBED_DATA"):
        env.pop(name, None)
    return env


def run_guide(guide: Path, workdir: Path, env: dict[str, str], timeout: int = 300) -> list[tuple[str, str]]:
    """Run a guide's blocks in ``workdir``; returns (block, stdout) of every block that ran a command.
    A failing block fails the test with the block, its stdout and its stderr."""
    outputs = []
    for i, block in enumerate(guide_blocks(guide.read_text())):
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
            raise AssertionError(f"{guide.name}: guide block {i} has language {block['lang']!r} and no file=")
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (f"{guide.name}: guide block {i} failed:\n{block['body']}\n--- stdout\n"
                                      f"{done.stdout}\n--- stderr\n{done.stderr}")
        outputs.append((block["body"], done.stdout))
    return outputs


def output_of(outputs: list[tuple[str, str]], starts: str) -> str:
    """The stdout of the (first) block whose text starts with ``starts``."""
    found = [out for body, out in outputs if body.lstrip().startswith(starts)]
    assert found, f"no guide block starts with {starts!r}"
    return found[0]
