"""Built-in samplers. A model author registers their own the same way (``register_samplers`` hook)."""
from __future__ import annotations

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import SEED_SETTINGS, SamplerSpec
from benchbed.generative.defaults import DAT_DEFAULTS, JEM_DEFAULTS  # torch-free; a track's options override them


def _sample_sgld(request):
    from benchbed.generative.sgld import sample_sgld  # torch only when sampling, not when listing plugins

    return sample_sgld(request)


def _sample_jem_sgld(request):
    from benchbed.generative.joint_samplers import sample_jem_sgld

    return sample_jem_sgld(request, JEM_DEFAULTS)


def _sample_dat_pgd(request):
    from benchbed.generative.joint_samplers import sample_dat_pgd

    return sample_dat_pgd(request, DAT_DEFAULTS)


@hookimpl
def register_samplers(register):
    register(SamplerSpec(
        name="sgld", sample=_sample_sgld, uses=SEED_SETTINGS + ("steps", "step_size", "noise", "momentum"),
        description="SGLD with momentum on the joint energy E(x, y) = -f(x)[y] from class-conditional seeds "
                    "(per-class PCA, class Gaussian or uniform noise); science.md section 3",
    ))
    register(SamplerSpec(
        name="jem-sgld", sample=_sample_jem_sgld, defaults=JEM_DEFAULTS, uses=(),  # its own starts and options
        description="JEM's replay-buffer SGLD (Grathwohl et al. 2020): U[0, 1] starts, 5% re-initialised, "
                    "x <- x + a grad f(x)[y] + s N (or logsumexp f(x) with conditional=False)",
    ))
    register(SamplerSpec(
        name="dat-pgd", sample=_sample_dat_pgd, defaults=DAT_DEFAULTS, uses=SEED_SETTINGS,  # steps in options
        description="DAT's generation (Yin et al. 2025): deterministic L2-normalised ascent of f(x)[y] from the "
                    "track's seeds, step 0.2, 33 steps, clipped to [0, 1]; optional step count chosen by FID",
    ))
