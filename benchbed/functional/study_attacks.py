"""The attacks of the energy studies (``benchbed study attacks``), each a plain function of a model and points.

Every function returns ``(x_star, moved)``: x* for *every* point given (misclassified ones included,
the papers' protocol), and a bool mask of the points the attack actually produced a point for (only
FAB-T leaves some at x). All are deterministic given ``seed``: the random starts are drawn from a
private generator on the CPU for the whole set at once (so the batch size changes nothing), and
pyautoattack's own global-RNG draws run under a forked RNG seeded with ``seed``.

Which x* each attack gives (docs/studies.md):

- ``pgd``: the final iterate of ``steps`` sign-gradient steps of cross-entropy from a uniform random
  start in the eps ball (Madry et al.; step eps/4, 10 steps by default: torchattacks' ratio).
- ``cw_margin``: the final iterate of sign-gradient ascent of the targeted Carlini-Wagner margin
  f_t(x) - max_{k != t} f_k(x), towards t = the natural runner-up class (the best class other than
  the label and the prediction: :func:`benchbed.functional.pgd.runner_up`), from x.
- ``trades_kl``: the final iterate of TRADES' inner maximisation of KL(p(.|x) || p(.|x')) from
  x + 0.001 N(0, I) (Zhang et al. 2019).
- ``apgd`` (losses "ce" and "dlr"): the highest-loss iterate of one APGD run (pyautoattack).
- ``apgd_targeted``: per point, the highest targeted-DLR iterate over the top ``n_target_classes``
  wrong classes (one APGD run each), as AutoAttack's APGD-T tries them; a misclassified point (which
  APGD-T leaves alone) never gets its label or its own wrong prediction as a target
  (:func:`benchbed.functional.pgd.target_order`).
- ``fab_targeted``: FAB-T's point where it found one within eps (only correctly classified points are
  attacked, a minimal-norm attack has no iterate at eps otherwise); x elsewhere (``moved`` False).
- ``square``: the lowest-margin point of Square's random search (margin loss), per point.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from benchbed.functional.pgd import ascend, project, random_start, runner_up, target_order


# -- losses -------------------------------------------------------------------------------------------------
def cw_margin(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targeted CW margin f_t - max_{k != t} f_k per row (positive once t is the top class)."""
    target = logits.gather(1, targets.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, targets.view(-1, 1), -math.inf).amax(dim=1)
    return target - others


def kl_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(softmax(logits_p) || softmax(logits_q)) per row."""
    log_p = F.log_softmax(logits_p, dim=1)
    return (log_p.exp() * (log_p - F.log_softmax(logits_q, dim=1))).sum(dim=1)


# -- the hand-written loops -----------------------------------------------------------------------------------
@torch.no_grad()
def logits_of(model, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def _all_moved(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[0], dtype=torch.bool)


def pgd(model, x, y, *, eps, norm="Linf", seed=0, steps=10, step_size=None, batch_size=500):
    """PGD on cross-entropy from a random start; the final iterate (step eps/4 unless given)."""
    step = eps / 4 if step_size is None else step_size
    start = random_start(x, eps, norm, torch.Generator().manual_seed(seed))
    x_star = ascend(model, x, start, lambda z, rows: F.cross_entropy(z, y[rows], reduction="none"),
                    eps=eps, norm=norm, steps=steps, step_size=step, batch_size=batch_size)
    return x_star, _all_moved(x)


def cw_margin_targeted(model, x, y, *, eps, norm="Linf", seed=0, steps=30, step_size=None, batch_size=500):
    """Targeted CW-margin ascent towards the natural runner-up class, from x; the final iterate."""
    del seed  # no randomness: the target and the start are fixed by x
    targets = runner_up(logits_of(model, x, batch_size), y)
    step = eps / 10 if step_size is None else step_size
    x_star = ascend(model, x, x.clone(), lambda z, rows: cw_margin(z, targets[rows]), eps=eps, norm=norm,
                    steps=steps, step_size=step, batch_size=batch_size)
    return x_star, _all_moved(x)


def trades_kl(model, x, y, *, eps, norm="Linf", seed=0, steps=10, step_size=None, batch_size=500):
    """TRADES' inner maximisation of KL(p(.|x) || p(.|x')) from x + 0.001 N(0, I); the final iterate."""
    del y  # the KL attack needs no label
    natural = logits_of(model, x, batch_size)
    g = torch.Generator().manual_seed(seed)
    start = project(x + 0.001 * torch.randn(x.shape, generator=g).to(x.device, x.dtype), x, eps, norm)
    step = eps / 4 if step_size is None else step_size
    x_star = ascend(model, x, start, lambda z, rows: kl_divergence(natural[rows], z), eps=eps, norm=norm,
                    steps=steps, step_size=step, batch_size=batch_size)
    return x_star, _all_moved(x)


# -- pyautoattack's attack classes, on every point ---------------------------------------------------------------
def _forked_rng(seed: int, device: torch.device):
    devices = [device] if device.type == "cuda" else []
    ctx = torch.random.fork_rng(devices=devices)
    ctx.__enter__()
    torch.manual_seed(seed)
    return ctx


def _single_runs(attacker, x, y, *, seed: int, batch_size: int, pick: int) -> torch.Tensor:
    """One ``attack_single_run`` of a pyautoattack attack per batch, under a forked RNG; its output
    ``pick`` (the x* it returns there) for every point."""
    attacker.init_hyperparam(x)
    out = torch.empty_like(x)
    ctx = _forked_rng(seed, x.device)
    try:
        for lo in range(0, x.shape[0], batch_size):
            rows = slice(lo, lo + batch_size)
            out[rows] = attacker.attack_single_run(x[rows], y[rows])[pick].detach()
    finally:
        ctx.__exit__(None, None, None)
    return out


def apgd(model, x, y, *, eps, norm="Linf", seed=0, loss="ce", n_iter=100, batch_size=500):
    """One APGD run (loss "ce" or "dlr") on every point; its highest-loss iterate."""
    from pyautoattack.autopgd_base import APGDAttack

    attacker = APGDAttack(model, n_iter=n_iter, norm=norm, n_restarts=1, eps=eps, seed=seed, loss=loss,
                          device=x.device)
    return _single_runs(attacker, x, y, seed=seed, batch_size=batch_size, pick=0), _all_moved(x)


def apgd_targeted(model, x, y, *, eps, norm="Linf", seed=0, n_iter=100, n_target_classes=9, batch_size=500):
    """APGD on the targeted DLR loss towards each of the top ``n_target_classes`` wrong classes; per point
    the iterate of the highest loss over the targets."""
    from pyautoattack.autopgd_base import APGDAttack_targeted

    attacker = APGDAttack_targeted(model, n_iter=n_iter, norm=norm, n_restarts=1, eps=eps, seed=seed,
                                   n_target_classes=n_target_classes, device=x.device)
    attacker.init_hyperparam(x)
    out = x.clone()
    best = torch.full((x.shape[0],), -math.inf, device=x.device)
    order, valid = target_order(logits_of(model, x, batch_size), y)
    ctx = _forked_rng(seed, x.device)
    try:
        for rank in range(min(n_target_classes, order.shape[1])):
            for lo in range(0, x.shape[0], batch_size):
                rows = slice(lo, lo + batch_size)
                attacker.y_target = order[rows, rank]
                x_best, _, loss_best, _ = attacker.attack_single_run(x[rows], y[rows])
                better = (loss_best.detach() > best[rows]) & valid[rows, rank]
                out[rows][better] = x_best.detach()[better]
                best[rows] = torch.where(better, loss_best.detach(), best[rows])
    finally:
        ctx.__exit__(None, None, None)
    return out, _all_moved(x)


def fab_targeted(model, x, y, *, eps, norm="Linf", seed=0, n_iter=100, n_target_classes=9, batch_size=500):
    """FAB-T (pyautoattack, AutoAttack's settings): its point within eps where it found one, else x."""
    from pyautoattack.fab_pt import FABAttack_PT

    attacker = FABAttack_PT(model, norm=norm, n_restarts=1, n_iter=n_iter, eps=eps, seed=seed, targeted=True,
                            n_target_classes=n_target_classes, device=x.device)
    ctx = _forked_rng(seed, x.device)  # FAB seeds the global RNG itself: keep that from leaking out
    try:
        out = torch.cat([attacker.perturb(x[i:i + batch_size], y[i:i + batch_size]).detach()
                         for i in range(0, x.shape[0], batch_size)])
    finally:
        ctx.__exit__(None, None, None)
    moved = (out != x).reshape(x.shape[0], -1).any(dim=1).cpu()
    return out, moved


def square(model, x, y, *, eps, norm="Linf", seed=0, n_queries=5000, batch_size=500):
    """Square's random search on the margin loss (pyautoattack, AutoAttack's settings) on every point;
    its lowest-margin point."""
    from pyautoattack.square import SquareAttack

    attacker = SquareAttack(model, p_init=0.8, n_queries=n_queries, eps=eps, norm=norm, n_restarts=1, seed=seed,
                            device=x.device, resc_schedule=False)
    return _single_runs(attacker, x, y, seed=seed, batch_size=batch_size, pick=1), _all_moved(x)
