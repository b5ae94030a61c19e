"""Energy studies: experiments beyond a track's columns, one command each (docs/studies.md).

- ``benchbed study attacks``: natural vs adversarial energies per attack, on every test point
  (:mod:`.attack_study`).
- ``benchbed study eps``: the energy gap and PGD robust accuracy over a grid of eps (:mod:`.eps_study`).
- ``benchbed dynamics``: clean/robust accuracy and energies along a model's training series
  (:mod:`.dynamics_study`).

Each stores a :class:`benchbed.results.record.StudyResult` (kinds "attacks", "eps", "dynamics") that the
model page draws (:mod:`benchbed.leaderboard.study_figures`).
"""
