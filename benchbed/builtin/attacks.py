"""Built-in attacks."""
from __future__ import annotations

from benchbed.builtin.autoattack import FAST_ATTACK_OPTIONS, run_autoattack
from benchbed.contracts.figures import FlagExplanation
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import TARGETED, UNTARGETED, AttackSpec

AUTOATTACK_FLAGS_DOC = "https://github.com/fra31/auto-attack/blob/master/flags_doc.md"
# AutoAttack's checks (pyautoattack/checks.py) end every warning with "See flags_doc.md for details"; each
# check has its own section there. (words in the warning, section anchor, what it means)
AUTOATTACK_CHECKS = (
    ("randomized", "randomized-defenses",
     "AutoAttack saw the model's predictions or logits change between identical forward passes (a randomized "
     "defense). Standard AutoAttack can overestimate the robustness of such a model; its authors suggest "
     "version='rand' (APGD with expectation over transformation)."),
    ("probability distribution", "softmax-output-is-given",
     "The model seems to return probabilities instead of logits; gradient-based attacks can then fail "
     "numerically, and robust accuracy be overestimated."),
    ("zero gradient", "zero-gradient",
     "Some points have a zero gradient where APGD starts: gradient-based attacks make no progress on them, so "
     "robust accuracy may be overestimated (gradient masking)."),
    ("square attack has decreased", "square-attack-improves-the-robustness-evaluation",
     "The black-box Square attack found adversarial points the white-box attacks missed: a hint that gradients "
     "are masked and that robustness is overestimated."),
    ("dynamic defense", "optimization-at-inference-time-only-pytorch-models",
     "The model computes gradients while classifying (a dynamic defense): AutoAttack alone may not be enough; "
     "adaptive attacks are needed."),
)


def _see_flags_doc(anchor: str) -> tuple[tuple[str, str], ...]:
    # AutoAttack's words cite a file of its repository: readers get the address of the section meant
    return (("See flags_doc.md for details", f"See AutoAttack's flag documentation: {AUTOATTACK_FLAGS_DOC}#{anchor}"),)


FLAG_EXPLANATIONS = (
    *(FlagExplanation(anchor, explain, match=words, ref_url=f"{AUTOATTACK_FLAGS_DOC}#{anchor}",
                      ref_text=f"AutoAttack's flags_doc.md (§ {anchor.replace('-', ' ')})",
                      reword=_see_flags_doc(anchor))
      for words, anchor, explain in AUTOATTACK_CHECKS),
    FlagExplanation("checks", "A warning from AutoAttack's automatic checks of the model (its words are in the "
                              "tooltip and on the model page).", ref_url=f"{AUTOATTACK_FLAGS_DOC}#checks",
                    ref_text="AutoAttack's flags_doc.md", reword=_see_flags_doc("checks")),
)


@hookimpl
def register_attacks(register):
    register(AttackSpec(
        name="autoattack", norms=("Linf", "L2", "L1"), run=run_autoattack, library="pyautoattack",
        provides=(UNTARGETED, TARGETED), options=("version", "attacks"),
        modes={"fast": FAST_ATTACK_OPTIONS}, flag_explanations=FLAG_EXPLANATIONS,
        mode_descriptions={"fast": "APGD-CE + APGD-T only (no FAB-T, no Square): ~40 % of standard's time on the "
                                   "digits zoo, robust accuracy an upper bound on standard's"},
        description="AutoAttack (Croce & Hein 2020) from pyautoattack; version 'standard' runs "
                    "APGD-CE, APGD-T, FAB-T and Square, each on the points still robust; keeps APGD-CE's "
                    "and APGD-T's max-loss iterates as the untargeted and targeted x*",
    ))
