"""AutoAttack through the PyPI distribution ``pyautoattack``, with its diagnostics kept."""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager

import torch

from .errors import ConfigError
from .specs import AttackRequest, AttackResult

AA_LOGGER = "auto-attack"
_FLIPPED = re.compile(r"^(?P<attack>[a-z\-]+) - \d+/\d+ - (?P<k>\d+) out of \d+ successfully perturbed$")
VERSIONS = ("standard", "plus", "rand", "custom")


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.flipped: dict[str, int] = {}
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            if message not in self.warnings:
                self.warnings.append(message)
            return
        match = _FLIPPED.match(message)
        if match:
            name = match["attack"]
            self.flipped[name] = self.flipped.get(name, 0) + int(match["k"])


@contextmanager
def _captured_autoattack_log():
    logger = logging.getLogger(AA_LOGGER)
    handler = _Capture()
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


def run_autoattack(request: AttackRequest) -> AttackResult:
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
    with _captured_autoattack_log() as log:
        x_adv, y_adv = adversary.run_standard_evaluation(request.images, request.labels,
                                                         batch_size=request.batch_size)
    components = list(adversary.attacks_to_run)
    flipped = {name: log.flipped.get(name, 0) for name in components}
    robust = (y_adv.cpu() == request.labels.cpu())
    return AttackResult(adversarial=x_adv.detach().cpu(), robust=robust, version=version,
                        flipped_by=flipped, warnings=log.warnings)


