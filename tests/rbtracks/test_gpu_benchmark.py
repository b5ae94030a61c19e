"""benchmarks/gpu.py measures every stage on the device it finds (here the CPU, --quick)."""
import importlib.util
import json
from pathlib import Path

import pytest

GPU_PY = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


@pytest.mark.slow
def test_quick_run_measures_every_stage(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_benchmark", GPU_PY)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    out = tmp_path / "gpu.json"
    assert gpu.main(["--quick", "--device", "cpu", "--threads", "1", "--workloads", "digits-cnn",
                     "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["device"] == "cpu" and data["scale"] == gpu.QUICK_SCALE
    stages = [s["stage"] for r in data["results"] for s in r["stages"]]
    assert [s.split(" ")[0] for s in stages] == ["clean", "AutoAttack", "APGD-CE", "energy", "SGLD", "feature"]
    for r in data["results"]:
        for s in r["stages"]:
            assert s["images"] >= 8 and s["seconds"] > 0 and s["images_per_s"] > 0
            # seconds kept to the microsecond, images/s to 0.01: equal up to those roundings
            assert s["images_per_s"] == pytest.approx(s["images"] / s["seconds"], rel=2e-6 / s["seconds"] + 1e-4,
                                                      abs=0.01)
