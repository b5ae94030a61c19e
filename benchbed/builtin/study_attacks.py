"""The energy studies' attacks as attack plugins (maths in :mod:`benchbed.functional.study_attacks`).

Each returns, like every attack, ``adversarial`` (x* where it flipped the point, x elsewhere) and
``robust``; and in ``iterates`` its x* on *every* point (the untargeted or targeted kind), which is
what ``benchbed study attacks`` reads. A track may name any of them as its attack.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import TARGETED, UNTARGETED, AttackIterate, AttackRequest, AttackResult, AttackSpec

VERSION = "1"


def _run(function_name: str, kind: str, allowed: tuple[str, ...], fixed: dict, request: AttackRequest) -> AttackResult:
    import torch

    from benchbed.functional import study_attacks
    unknown = sorted(set(request.options) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for this attack: allowed are {list(allowed)}")
    function: Callable = getattr(study_attacks, function_name)
    x = request.images.to(request.device)
    y = request.labels.to(request.device)
    request.progress(f"running {function_name}")
    x_star, moved = function(request.model, x, y, eps=request.eps, norm=request.norm, seed=request.seed,
                             batch_size=request.batch_size, **fixed, **dict(request.options))
    with torch.no_grad():
        predicted = study_attacks.logits_of(request.model, x_star, request.batch_size).argmax(dim=1)
    robust = (predicted == y).cpu()
    x_star, x = x_star.detach().cpu(), x.cpu()
    adversarial = torch.where((~robust).view(-1, *([1] * (x.dim() - 1))), x_star, x)
    return AttackResult(adversarial=adversarial, robust=robust, version=VERSION,
                        flipped_by={function_name: int((~robust).sum())},
                        iterates={kind: AttackIterate(x_star, moved.cpu(), function_name)})


ASCENT_OPTIONS = ("steps", "step_size")
APGD_OPTIONS = ("n_iter",)
TARGETED_OPTIONS = ("n_iter", "n_target_classes")

# name -> (function, iterate kind, options, fixed arguments, norms, description)
STUDY_ATTACKS = {
    "pgd": ("pgd", UNTARGETED, ASCENT_OPTIONS, {}, ("Linf", "L2"),
            "PGD on cross-entropy (Madry et al.): 10 steps of eps/4 from a uniform random start; x* = the final "
            "iterate, on every point"),
    "apgd-ce": ("apgd", UNTARGETED, APGD_OPTIONS, {"loss": "ce"}, ("Linf", "L2", "L1"),
                "APGD-CE (pyautoattack), one 100-step run on every point; x* = its highest-loss iterate"),
    "apgd-dlr": ("apgd", UNTARGETED, APGD_OPTIONS, {"loss": "dlr"}, ("Linf", "L2", "L1"),
                 "APGD-DLR (pyautoattack), one 100-step run on every point; x* = its highest-loss iterate"),
    "apgd-t": ("apgd_targeted", TARGETED, TARGETED_OPTIONS, {}, ("Linf", "L2", "L1"),
               "APGD-T (pyautoattack), targeted DLR towards each of the top 9 wrong classes; x* = the highest-loss "
               "iterate over the targets, on every point"),
    "fab-t": ("fab_targeted", TARGETED, TARGETED_OPTIONS, {}, ("Linf", "L2", "L1"),
              "FAB-T (pyautoattack, AutoAttack's settings), on correctly classified points; x* = its point where it "
              "found one within eps, else x"),
    "square": ("square", UNTARGETED, ("n_queries",), {}, ("Linf", "L2"),
               "Square (pyautoattack, margin loss, 5000 queries) on every point; x* = its lowest-margin point"),
    "cw-margin-t": ("cw_margin_targeted", TARGETED, ASCENT_OPTIONS, {}, ("Linf", "L2"),
                    "targeted Carlini-Wagner margin f_t - max_{k != t} f_k towards the natural runner-up class t: "
                    "30 sign steps of eps/10 from x; x* = the final iterate"),
    "trades-kl": ("trades_kl", UNTARGETED, ASCENT_OPTIONS, {}, ("Linf", "L2"),
                  "TRADES' KL attack: ascent of KL(p(.|x) || p(.|x')) from x + 0.001 N(0, I), 10 steps of eps/4; "
                  "x* = the final iterate"),
}


@hookimpl
def register_attacks(register):
    for name, (function, kind, options, fixed, norms, description) in STUDY_ATTACKS.items():
        register(AttackSpec(name=name, norms=norms, run=functools.partial(_run, function, kind, options, fixed),
                            library="pyautoattack" if function in ("apgd", "apgd_targeted", "fab_targeted", "square")
                            else "", provides=(kind,), options=options, description=description))
