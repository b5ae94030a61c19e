"""Built-in attacks."""
from __future__ import annotations

from benchbed.builtin.autoattack import FAST_ATTACK_OPTIONS, run_autoattack
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import TARGETED, UNTARGETED, AttackSpec


@hookimpl
def register_attacks(register):
    register(AttackSpec(
        name="autoattack", norms=("Linf", "L2", "L1"), run=run_autoattack, library="pyautoattack",
        provides=(UNTARGETED, TARGETED), options=("version", "attacks"),
        modes={"fast": FAST_ATTACK_OPTIONS},
        mode_descriptions={"fast": "APGD-CE + APGD-T only (no FAB-T, no Square): ~40 % of standard's time on the "
                                   "digits zoo, robust accuracy an upper bound on standard's"},
        description="AutoAttack (Croce & Hein 2020) from pyautoattack; version 'standard' runs "
                    "APGD-CE, APGD-T, FAB-T and Square, each on the points still robust; keeps APGD-CE's "
                    "and APGD-T's max-loss iterates as the untargeted and targeted x*",
    ))
