"""AutoAttack through the PyPI distribution ``pyautoattack``, with its diagnostics kept."""
from __future__ import annotations

import logging
import math
import re
from contextlib import contextmanager

import torch

from benchbed.contracts.errors import ConfigError
from benchbed.contracts.specs import TARGETED, UNTARGETED, AttackIterate, AttackRequest, AttackResult, AttackWarning

AA_LOGGER = "auto-attack"
_FLIPPED = re.compile(r"^(?P<attack>[a-z\-]+) - \d+/\d+ - (?P<k>\d+) out of \d+ successfully perturbed$")
VERSIONS = ("standard", "plus", "rand", "custom")
# AutoAttack's "fast" mode (``--attack-mode fast``, declared in AttackSpec.modes by the built-in plugin): APGD-CE
# and APGD-T only (version 'custom'), for checks during training. Its robust accuracy is an upper bound on
# standard AA's (it skips FAB-T and Square, which attack the points both APGDs left robust).
FAST_ATTACK_OPTIONS = {"version": "custom", "attacks": ["apgd-ce", "apgd-t"]}


_PROGRESS = re.compile(r"^(running \S+|robust accuracy after .*|.* - \d+/\d+ - \d+ out of \d+ successfully perturbed)$")


def warning_label(message: str) -> str:
    """A short label for one of AutoAttack's warnings (the flag the pages show beside its text)."""
    w = message.lower()
    if "random" in w or "stochastic" in w:
        return "randomness"
    if "square" in w and "decreased" in w:
        return "square found more"
    if "mask" in w or "obfusc" in w or "gradient" in w:
        return "gradient masking"
    if "dlr" in w or "classes" in w:
        return "DLR / few classes"
    return "warning"


class _Capture(logging.Handler):
    """Reads AutoAttack's log: points flipped per component, its warnings, and progress lines."""

    def __init__(self, progress):
        super().__init__(level=logging.DEBUG)
        self.flipped: dict[str, int] = {}
        self.warnings: list[AttackWarning] = []
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            warning = AttackWarning(warning_label(message), message)
            if warning not in self.warnings:
                self.warnings.append(warning)
            return
        match = _FLIPPED.match(message)
        if match:
            name = match["attack"]
            self.flipped[name] = self.flipped.get(name, 0) + int(match["k"])
        if _PROGRESS.match(message):
            self.progress(message)


@contextmanager
def _captured_autoattack_log(progress):
    logger = logging.getLogger(AA_LOGGER)
    handler = _Capture(progress)
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # its debug chatter is ours to summarise, not to print
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# AutoAttack's APGD attackers and the component names their runs belong to. ``apgd`` serves both
# 'apgd-ce' and 'apgd-dlr' (AutoAttack sets its ``loss`` before each), ``apgd_targeted`` 'apgd-t'.
_APGD_LOSS_COMPONENT = {"ce": "apgd-ce", "dlr": "apgd-dlr"}

log = logging.getLogger("benchbed.builtin.autoattack")


class ComponentRecorder:
    """Keeps, per APGD component and per attacked point, the highest-loss iterate it evaluated.

    It wraps, on one AutoAttack object only (instance attributes, the class is untouched), the
    ``attack_single_run`` and ``decr_eps_pgd`` methods of ``adversary.apgd`` and
    ``adversary.apgd_targeted``. Every APGD run (each restart, each target class of APGD-T, each
    batch) goes through ``attack_single_run``, which returns ``(x_best, acc, loss_best, x_best_adv)``:
    ``x_best`` is the iterate with the highest attack loss of that run (APGD's own bookkeeping).
    The wrapper passes the call through unchanged and then copies, for each row, ``x_best`` and
    ``loss_best``; across runs a point keeps the row of highest loss. So a component's x* for a point
    is the highest-loss iterate over all its runs on that point (for APGD-CE: the max-cross-entropy
    iterate; for APGD-T: the max targeted-DLR iterate over the target classes it tried, i.e. the
    target that flipped the point, or the strongest of the 9 for a point that stayed robust).
    For the L1 schedule (``decr_eps_pgd``: runs at 3, 2 and 1 times eps) only the final run, at the
    track's eps, is recorded.

    The wrappers draw no random numbers, run no forward pass and change no argument or return
    value, so AutoAttack computes exactly what it computes unwrapped. Rows reach the wrapper without
    their position in the batch; they are matched back to the input by exact bytes of (image,
    label). Identical (image, label) pairs are indistinguishable, so their records may swap between
    them (the statistics are unaffected).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images = images.detach().to("cpu")
        self._x = self.images.float()
        self._y = labels.detach().to("cpu", torch.int64)
        self._where: dict[bytes, list[int]] = {}
        for i in range(len(self._y)):
            self._where.setdefault(self._key(self._x[i], self._y[i]), []).append(i)
        self.best: dict[str, torch.Tensor] = {}
        self.loss: dict[str, torch.Tensor] = {}
        self.seen: dict[str, torch.Tensor] = {}
        self.unmatched = 0
        self._nested = 0

    @staticmethod
    def _key(image: torch.Tensor, label: torch.Tensor) -> bytes:
        return image.contiguous().numpy().tobytes() + int(label).to_bytes(8, "little", signed=True)

    def attach(self, adversary) -> None:
        self._wrap(adversary.apgd, lambda attacker: _APGD_LOSS_COMPONENT.get(attacker.loss))
        self._wrap(adversary.apgd_targeted, lambda attacker: "apgd-t")

    def _wrap(self, attacker, component_of) -> None:
        single_run = attacker.attack_single_run  # bound methods of the original class
        decr_eps = attacker.decr_eps_pgd
        recorder = self

        def attack_single_run(x, y, *args, **kwargs):
            result = single_run(x, y, *args, **kwargs)
            if not recorder._nested:
                recorder.record(component_of(attacker), x, y, result[0], result[2])
            return result

        def decr_eps_pgd(x, y, *args, **kwargs):
            recorder._nested += 1
            try:
                result = decr_eps(x, y, *args, **kwargs)
            finally:
                recorder._nested -= 1
            recorder.record(component_of(attacker), x, y, result[0], result[2])
            return result

        attacker.attack_single_run = attack_single_run
        attacker.decr_eps_pgd = decr_eps_pgd

    def record(self, component: str | None, x, y, x_best, loss_best) -> None:
        if component is None:
            return
        x = x.detach().to("cpu", torch.float32).reshape(-1, *self._x.shape[1:])
        y = y.detach().to("cpu", torch.int64).reshape(-1)
        x_best = x_best.detach().to("cpu").reshape(-1, *self._x.shape[1:])
        loss_best = loss_best.detach().to("cpu", torch.float64).reshape(-1)
        if component not in self.best:
            self.best[component] = self.images.clone()
            self.loss[component] = torch.full((len(self._y),), -math.inf, dtype=torch.float64)
            self.seen[component] = torch.zeros(len(self._y), dtype=torch.bool)
        best, loss, seen = self.best[component], self.loss[component], self.seen[component]
        occurrences: dict[bytes, int] = {}
        for row in range(len(y)):
            key = self._key(x[row], y[row])
            where = self._where.get(key)
            if not where:
                self.unmatched += 1
                continue
            k = occurrences.get(key, 0)
            occurrences[key] = k + 1
            i = where[k % len(where)]
            value = float(loss_best[row])
            if not bool(seen[i]) or value > float(loss[i]):
                best[i] = x_best[row].to(best.dtype)
                loss[i] = value
                seen[i] = True

    def iterate(self, component: str) -> AttackIterate:
        """x* per point (the natural image where the component attacked nothing), with its mask."""
        if component in self.best:
            return AttackIterate(self.best[component], self.seen[component].clone(), component)
        # the component ran on no point (all flipped before it, or none correct)
        return AttackIterate(self.images.clone(), torch.zeros(len(self._y), dtype=torch.bool), component)


# semantic iterate kind -> the AutoAttack component whose max-loss iterate provides it
ITERATE_SOURCES = {UNTARGETED: "apgd-ce", TARGETED: "apgd-t"}


def run_autoattack(request: AttackRequest, *, capture: bool = True) -> AttackResult:
    """AutoAttack on the request's points, seeded; robust flags exactly as pyautoattack computes them.

    With ``capture`` (the default), the result also carries ``iterates[UNTARGETED]`` (APGD-CE's
    max-loss iterate) and ``iterates[TARGETED]`` (APGD-T's) for the points each component attacked
    (see :class:`ComponentRecorder`) when the run includes those components. AutoAttack attacks only
    points that are still robust, so APGD-CE covers the points classified correctly at the start, and
    APGD-T only those APGD-CE did not flip.
    """
    from pyautoattack import AutoAttack

    options = dict(request.options)
    version = options.pop("version", "standard")
    attacks = options.pop("attacks", None)
    if version not in VERSIONS:
        raise ConfigError(f"unknown AutoAttack version {version!r}: use one of {VERSIONS}")
    if options:
        raise ConfigError(f"unknown AutoAttack option(s) {sorted(options)}: allowed are 'version', 'attacks'")
    kwargs = {"attacks": list(attacks)} if attacks is not None else {}
    adversary = AutoAttack(request.model, norm=request.norm, eps=request.eps, version=version,
                           seed=request.seed, device=request.device, **kwargs)
    recorder = None
    if capture:
        recorder = ComponentRecorder(request.images, request.labels)
        recorder.attach(adversary)
    with _captured_autoattack_log(request.progress) as log_capture:
        x_adv, y_adv = adversary.run_standard_evaluation(request.images, request.labels,
                                                         batch_size=request.batch_size)
    components = list(adversary.attacks_to_run)
    flipped = {name: log_capture.flipped.get(name, 0) for name in components}
    robust = (y_adv.cpu() == request.labels.cpu())
    result = AttackResult(adversarial=x_adv.detach().cpu(), robust=robust, version=version,
                          flipped_by=flipped, warnings=log_capture.warnings)
    if recorder is not None:  # a component this run did not include: no point has its x* (n = 0)
        result.iterates = {kind: recorder.iterate(component) for kind, component in ITERATE_SOURCES.items()}
        if recorder.unmatched:
            log.warning("%d APGD rows could not be matched back to their input points; their x* is missing "
                        "from the energy statistics", recorder.unmatched)
    return result
