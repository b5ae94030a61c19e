"""Built-in samplers. A model author registers their own the same way (``register_samplers`` hook)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import SamplerSpec


def _sample_sgld(request):
    from ..generative.sgld import sample_sgld  # torch only when sampling, not when listing plugins

    return sample_sgld(request)


@hookimpl
def register_samplers(register):
    register(SamplerSpec(
        name="sgld", sample=_sample_sgld,
        description="SGLD with momentum on the joint energy E(x, y) = -f(x)[y] from class-conditional seeds "
                    "(per-class PCA, class Gaussian or uniform noise); science.md section 3",
    ))
