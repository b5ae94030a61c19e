"""The study plugin guide (docs/plugins/studies.md), followed literally (see ``guide_runner``)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from guide_runner import DOCS, guide_environment, output_of, run_guide  # noqa: E402


@pytest.mark.slow
def test_study_guide(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    outputs = run_guide(DOCS / "plugins" / "studies.md", workdir, guide_environment(tmp_path, "benchbed-digits-zoo"))
    listed = output_of(outputs, "benchbed --plugin confidence_study.py studies")
    assert "confidence" in listed and "--temperatures" in listed and "file:confidence_study.py" in listed
    read = output_of(outputs, "from pathlib import Path")
    first, second = read.strip().splitlines()
    kind, model, track, values = first.split(" ", 3)
    assert (kind, model, track) == ("confidence", "digits-cnn-standard", "digits-linf")
    confidence = [float(v) for v in values.strip("[]").split(",")]
    assert len(confidence) == 3 and confidence[0] > confidence[1] > confidence[2] > 10  # hotter: less sure
    assert second == "True 1"


def test_the_study_guide_links_every_other_guide():
    text = (DOCS / "plugins" / "studies.md").read_text()
    for other in ("metrics", "attacks", "datasets", "samplers", "tracks"):
        assert f"({other}.md)" in text
    assert "(../python-api.md)" in text and "(../writing-a-plugin.md)" in text and "(../studies.md)" in text
