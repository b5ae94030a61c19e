"""The built-in studies (``benchbed study NAME``), registered like any plugin's; their code is in
:mod:`benchbed.studies`."""
from __future__ import annotations

from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.studies import StudySpec
from benchbed.studies import attack_study, dynamics_study, eps_study, figures, generation_study

_FIGURES = {attack_study: figures.attacks_figures, eps_study: figures.eps_figures,
            dynamics_study: figures.dynamics_figures, generation_study: figures.generation_figures}


@hookimpl
def register_studies(register):
    for module, draw in _FIGURES.items():
        register(StudySpec(name=module.KIND, title=module.TITLE, run=module.run_study,
                           description=module.DESCRIPTION, arguments=module.ARGUMENTS, figures=draw,
                           note=module.NOTE))
