"""Running the README leaves a checkout clean: runs write into an ignored scratch folder by default and
compare their numbers with the published records."""
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchbed.results.compare import compare_records, describe, threads_of
from benchbed.results.store import DEFAULT_RESULTS, PUBLISHED_RESULTS, ResultsStore

REPO = Path(__file__).resolve().parents[2]
RUN = [sys.executable, "-m", "benchbed", "run", "--model", "digits-cnn-standard", "--n-examples", "10",
       "--metrics", "clean_accuracy", "--device", "cpu", "--threads", "1"]


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    """A git repository with benchbed's .gitignore and its published records, all committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO / ".gitignore", repo / ".gitignore")
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init")
    return repo


def _env():
    return {**os.environ, "BENCHBED_RESULTS": "", "BENCHBED_PROGRESS": "plain"}


def test_the_quick_start_shape_leaves_git_status_clean_and_compares(checkout):
    env = _env()
    # publish (explicit --out), commit what is published, as the maintainers do
    subprocess.run([*RUN, "--out", str(PUBLISHED_RESULTS), "--site", "leaderboards/site"], cwd=checkout, env=env,
                   check=True, capture_output=True)
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "publish")
    # the quick start: `benchbed run --force`, default folders
    proc = subprocess.run([*RUN, "--force"], cwd=checkout, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert git(checkout, "status", "--porcelain") == ""  # nothing tracked changed, nothing untracked appeared
    assert (checkout / DEFAULT_RESULTS).is_dir() and (checkout / "leaderboards/local/site/index.html").is_file()
    assert f"results written to {DEFAULT_RESULTS}" in proc.stdout
    assert (f"compared with the published results in {PUBLISHED_RESULTS}: 1 of 1 model(s) identical in every column"
            in proc.stdout)


def test_compare_names_each_column_that_differs(tmp_path):
    published = ResultsStore(REPO / PUBLISHED_RESULTS)
    records = [r for r in published.records("digits-linf") if r.variant == ""][:2]
    if len(records) < 2:
        pytest.skip("needs two published digits-linf records")
    same, changed = records
    column = sorted(changed.metrics)[0]
    edited = dataclasses.replace(changed, metrics={**changed.metrics, column: changed.metrics[column] + 1.0})
    unpublished = dataclasses.replace(same, model="not-published")
    result = compare_records([same, edited, unpublished], published)
    assert [c.identical for c in result] == [True, False, False]
    assert result[1].differ == {column: (changed.metrics[column] + 1.0, changed.metrics[column])}
    assert not result[2].published
    lines = describe(result, "pub")
    assert lines[0] == ("compared with the published results in pub: 1 of 2 model(s) identical in every column "
                        "(1 not published)")
    assert lines[1].startswith(f"  {changed.model}: 1 column(s) differ") and column in lines[1]


def test_compare_tells_rounding_from_real_differences():
    published = ResultsStore(REPO / PUBLISHED_RESULTS)
    record = next((r for r in published.records("digits-linf") if r.variant == "" and "digits_fid" in r.metrics), None)
    if record is None:
        pytest.skip("needs a published digits-linf record with digits_fid")
    fid = record.metrics["digits_fid"]
    theirs = threads_of(record.device)
    ours = 2 if theirs == 1 else 1  # a run at another per-unit thread count than the published one
    nudged = dataclasses.replace(record, metrics={**record.metrics, "digits_fid": fid * (1 + 1e-5)},
                                 device=f"cpu (x86_64, {ours} threads)")
    (c,) = compare_records([nudged], published)
    assert c.rounding_only and c.threads == (ours, theirs) and c.largest_relative == pytest.approx(1e-5, rel=1e-3)
    lines = describe([c], "pub")
    assert "1 model(s) differ by float rounding only" in lines[1] and f"--threads {theirs} reproduces" in lines[1]
    assert "whatever its number of cores" in lines[1]
    accuracy = dataclasses.replace(record, metrics={**record.metrics, "clean_accuracy": record.metrics[
        "clean_accuracy"] * (1 + 1e-5)})
    (c,) = compare_records([accuracy], published)
    assert not c.rounding_only and "clean_accuracy" in describe([c], "pub")[1]
