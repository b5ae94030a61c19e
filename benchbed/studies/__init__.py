"""Studies: experiments of one model beyond a track's columns (docs/studies.md), one command each
(``benchbed study NAME``), registered as plugins by :mod:`benchbed.builtin.studies`.

- ``attacks``: natural vs adversarial energies per attack, on every test point (:mod:`.attack_study`).
- ``eps``: the energy gap and PGD robust accuracy over a grid of eps (:mod:`.eps_study`).
- ``dynamics``: clean/robust accuracy and energies along a model's training series (:mod:`.dynamics_study`).
- ``generation``: sample quality and energy against sampler steps (:mod:`.generation_study`).

Each stores a :class:`benchbed.results.record.StudyResult` of its kind; :mod:`.figures` says what the
model page draws from it, :mod:`.common` loads the model and points and builds the result, and
:mod:`.maths` holds the studies' numbers as pure functions.
"""
