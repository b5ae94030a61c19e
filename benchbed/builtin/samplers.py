"""Built-in samplers. A model author registers their own the same way (``register_samplers`` hook)."""
from __future__ import annotations

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import SEED_SETTINGS, SamplerSpec
from benchbed.generative.defaults import (  # torch-free; a track's options override them
    DAT_DEFAULTS,
    JEM_CONDITIONAL_DEFAULTS,
    JEM_DEFAULTS,
)


def _sample_sgld(request):
    from benchbed.generative.sgld import sample_sgld  # torch only when sampling, not when listing plugins

    return sample_sgld(request)


def _sample_jem_sgld(request):
    from benchbed.generative.jem import sample_jem

    return sample_jem(request, JEM_DEFAULTS)


def _sample_jem_sgld_conditional(request):
    from benchbed.generative.joint_samplers import sample_jem_sgld_conditional

    return sample_jem_sgld_conditional(request, JEM_CONDITIONAL_DEFAULTS)


def _sample_dat_pgd(request):
    from benchbed.generative.joint_samplers import sample_dat_pgd

    return sample_dat_pgd(request, DAT_DEFAULTS)


@hookimpl
def register_samplers(register):
    register(SamplerSpec(
        name="sgld", sample=_sample_sgld, uses=SEED_SETTINGS + ("steps", "step_size", "noise", "momentum"),
        description="SGLD with momentum on the joint energy E(x, y) = -f(x)[y] from class-conditional seeds "
                    "(per-class PCA, class Gaussian or uniform noise); docs/science.md, Samplers",
    ))
    register(SamplerSpec(
        name="jem-sgld", sample=_sample_jem_sgld, defaults=JEM_DEFAULTS, uses=(),  # its own starts and options
        description="JEM's own generation (Grathwohl et al. 2020, eval_wrn_ebm.py uncond_samples): unconditional "
                    "SGLD x <- x + a grad logsumexp f(x) + s N (a 1.0, s 0.01 on JEM's [-1, 1] scale), no clamping, "
                    "40 steps per visit, 5% Bernoulli re-init, from the model's own replay buffer (else U noise); "
                    "samples labelled by the model's predicted class",
    ))
    register(SamplerSpec(
        name="jem-sgld-conditional", sample=_sample_jem_sgld_conditional, defaults=JEM_CONDITIONAL_DEFAULTS,
        uses=(),  # its own starts and options
        description="benchbed's class-conditional variant of JEM's sampler (named jem-sgld before 0.3.0): one "
                    "U[0, 1] buffer slot per requested label, 5 passes x 20 steps of x <- clip(x + a grad f(x)[y] + "
                    "s N, 0, 1) (logsumexp f(x) with conditional=False); not JEM's protocol",
    ))
    register(SamplerSpec(
        name="dat-pgd", sample=_sample_dat_pgd, defaults=DAT_DEFAULTS, uses=SEED_SETTINGS,  # steps in options
        description="DAT's generation (Yin et al. 2025): deterministic L2-normalised ascent of f(x)[y] from the "
                    "track's seeds, step 0.2, 33 steps, clipped to [0, 1]; optional step count chosen by FID",
    ))
