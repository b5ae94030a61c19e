"""The README's Python example runs as written and gives sane numbers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_python_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'From Python' section has no python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs(capsys):
    from benchbed import registry as plugin_registry
    plugin_registry.reset()
    namespace: dict = {}
    try:
        exec(compile(readme_python_block(), str(README), "exec"), namespace)
    finally:
        plugin_registry.reset()
    result = namespace["result"]
    assert result.n_examples == 100 and result.track == "digits-linf"
    assert 80 <= result.metrics["clean_accuracy"] <= 100
    assert result.metrics["robust_accuracy"] < result.metrics["clean_accuracy"]
    assert result.metrics["energy_w1_untargeted"] > 0
    out = capsys.readouterr().out
    assert "energy_w1_untargeted" in out and "digits-cnn-trades" in out
