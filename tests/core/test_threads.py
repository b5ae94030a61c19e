"""The default torch thread count and workers: the idle CPUs (sampled), at least 1, capped; said in the run header."""
import io

import pytest

from benchbed.engine.devices import MAX_DEFAULT_THREADS, default_threads


@pytest.mark.parametrize("cpus, load, expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 6.4, 1), (8, 3.2, 5), (64, 0.0, MAX_DEFAULT_THREADS), (1, 0.0, 1)])
def test_default_threads_are_the_idle_cpus(monkeypatch, cpus, load, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n, said = default_threads(cpus=cpus, load=load)
    # reference: count the CPUs one by one that the load leaves idle (a CPU more than half idle counts)
    idle = sum(1 for cpu in range(cpus) if min(1.0, max(0.0, load - cpu)) < 0.5)
    assert n == expected == max(1, min(MAX_DEFAULT_THREADS, idle))
    assert said.startswith(f"{n} (default: {cpus} CPU(s), load {load:.1f}")


def test_omp_num_threads_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads(cpus=16, load=0.0) == (3, "3 (OMP_NUM_THREADS)")


def test_the_run_header_says_the_threads(tiny_digits_mlp, tmp_path, monkeypatch):
    import benchbed
    from benchbed.builtin import observers
    from benchbed.contracts.specs import ModelSpec
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost

    class Plugin:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=lambda device: tiny_digits_mlp))

    host = PluginHost(load_external=False)
    host.register(Plugin(), name="test-plugin")
    stream = io.StringIO()
    monkeypatch.setenv("BENCHBED_PROGRESS", "plain")
    monkeypatch.setattr(observers, "PlainProgress",
                        lambda run, stream_=None, cls=observers.PlainProgress: cls(run, stream))
    run_track("digits-linf", n_examples=10, metrics="clean_accuracy", device="cpu", results_dir=tmp_path,
              registry=host.registry, threads=1)
    first = stream.getvalue().splitlines()[0]
    assert "cpus 1 worker × 1 thread (--threads): 1 unit, " in first and "(sampled 0.3 s)" in first
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    stream.truncate(0)
    run_track("digits-linf", n_examples=10, metrics="clean_accuracy", device="cpu", results_dir=tmp_path,
              registry=host.registry, force=True)
    assert "cpus 1 worker × 1 thread (OMP_NUM_THREADS): 1 unit, " in stream.getvalue()


# -- the measured default: idle CPUs from a short /proc/stat sample, split into workers x threads ------------------
def _stat(per_cpu: dict[int, tuple[int, int]]) -> str:
    """A /proc/stat text: per CPU (idle ticks, busy ticks), busy ones counted as user time."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i, (idle, busy) in per_cpu.items()]
    return "\n".join(lines + ["intr 0", "ctxt 0"]) + "\n"


def _sampler(tmp_path, before, after):
    """Two /proc/stat snapshots, read in turn by the real parser."""
    from benchbed.engine.cpu import read_cpu_times

    paths = []
    for i, snapshot in enumerate((before, after)):
        paths.append(tmp_path / f"stat{i}")
        paths[-1].write_text(_stat(snapshot))
    files = iter(paths)
    return lambda: read_cpu_times(str(next(files)))


def test_a_run_right_after_a_cpu_heavy_job_uses_both_cores(tmp_path, monkeypatch):
    """The 1-minute load average still counts a job that ended seconds ago; the sample does not."""
    from benchbed.engine.cpu import plan_cpus, sample_cpus

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (1.9, 1.2, 0.6))  # the job that just ended
    # over the sample both CPUs idled 29 of 30 ticks (the kernel's own housekeeping is the 30th)
    read = _sampler(tmp_path, {0: (1000, 5000), 1: (800, 5200)}, {0: (1029, 5001), 1: (829, 5201)})
    sample = sample_cpus(0.3, read=read, sleep=lambda s: None, usable=2, affinity={0, 1})
    assert sample.source == "sampled" and sample.idle == pytest.approx(2 * 29 / 30)
    assert sample.idle_cpus == 2
    assert default_threads(cpus=2, load=1.9)[0] == 1  # what the load average alone made of it
    plan = plan_cpus(7, sample)
    assert (plan.workers, plan.threads) == (2, 1)
    assert plan.said == "2 workers × 1 thread: 7 units, 2 idle CPU(s) of 2 (sampled 0.3 s)"


def test_the_sample_counts_only_this_process_cpus(tmp_path):
    from benchbed.engine.cpu import sample_cpus

    # CPU 0 busy, 1 idle, 2 half idle, 3 idle but outside the affinity mask
    before = {0: (0, 0), 1: (0, 0), 2: (0, 0), 3: (0, 0)}
    after = {0: (0, 100), 1: (100, 0), 2: (50, 50), 3: (100, 0)}
    sample = sample_cpus(0.3, read=_sampler(tmp_path, before, after), sleep=lambda s: None, usable=3,
                         affinity={0, 1, 2})
    assert sample.idle == pytest.approx(1.5)  # reference: 0 + 1 + 0.5
    # a cgroup quota of 1 CPU caps it, whatever idles
    capped = sample_cpus(0.3, read=_sampler(tmp_path, before, after), sleep=lambda s: None, usable=1,
                         affinity={0, 1, 2})
    assert capped.idle == 1.0 and capped.idle_cpus == 1


def test_without_proc_stat_the_load_average_stands_in(monkeypatch):
    from benchbed.engine.cpu import sample_cpus

    monkeypatch.setattr("os.getloadavg", lambda: (2.6, 0.0, 0.0))
    sample = sample_cpus(0.3, read=lambda: None, sleep=lambda s: pytest.fail("no sample to wait for"), usable=8)
    assert (sample.source, sample.idle, sample.idle_cpus) == ("load average", pytest.approx(5.4), 5)
    assert "from the 1-minute load average" in sample.describe()


@pytest.mark.parametrize("units, idle, workers, threads, expected", [
    (7, 2, None, None, (2, 1)),   # the quick start on 2 idle cores: units side by side, 1 thread each
    (7, 64, None, None, (7, 1)),  # ... and on 64: still 1 thread per unit, so the same numbers
    (1, 4, None, None, (1, 4)),   # one unit: all idle CPUs as its threads
    (1, 200, None, None, (1, MAX_DEFAULT_THREADS)),
    (40, 8, None, None, (8, 1)),
    (7, 1, None, None, (1, 1)),   # a busy machine: one after another
    (7, 8, None, 2, (4, 2)),      # --threads 2: as many workers as fit
    (7, 8, 3, None, (3, 2)),      # --workers 3: the idle CPUs shared among them
    (2, 8, 5, 1, (2, 1)),         # never more workers than units
    (1, 2, None, 4, (1, 4)),      # a thread count asked for is kept even beyond the idle CPUs
    (0, 2, None, None, (1, 2)),
])
def test_workers_and_threads_from_units_and_idle_cpus(monkeypatch, units, idle, workers, threads, expected):
    from benchbed.engine.cpu import CpuSample, plan_cpus

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = plan_cpus(units, CpuSample(idle, float(idle), 0.3, "sampled"), workers=workers, threads=threads)
    assert (plan.workers, plan.threads) == expected
    # whatever the split: no more workers than units, and no more CPUs asked for than idle ones (but 1 unit)
    assert plan.workers <= max(units, 1) and plan.workers * plan.threads <= max(idle, plan.threads)
    assert plan.said.startswith(f"{plan.workers} worker{'s' * (plan.workers > 1)} × {plan.threads} thread")


def test_spare_cpus_are_said(monkeypatch):
    from benchbed.engine.cpu import CpuSample, plan_cpus

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = plan_cpus(7, CpuSample(64, 64.0, 0.3, "sampled"))
    assert plan.said == ("7 workers × 1 thread: 7 units, 64 idle CPU(s) of 64 (sampled 0.3 s); 57 CPUs left idle: "
                         "--threads 9 would use them (energies and FIDs then move in their last digits)")


def test_omp_num_threads_and_one_at_a_time(monkeypatch):
    from benchbed.engine.cpu import CpuSample, plan_cpus

    sample = CpuSample(8, 8.0, 0.3, "sampled")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    plan = plan_cpus(7, sample)
    assert (plan.workers, plan.threads) == (4, 2) and "(OMP_NUM_THREADS)" in plan.said
    monkeypatch.delenv("OMP_NUM_THREADS")
    gpu = plan_cpus(7, sample, workers=3, side_by_side=False)  # a GPU run: units share the device
    assert (gpu.workers, gpu.threads) == (1, 8) and "--workers ignored" in gpu.said
    with pytest.raises(Exception, match="--workers must be >= 1"):
        plan_cpus(7, sample, workers=0)
