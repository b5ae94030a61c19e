"""The generative lens: sample class-conditional images from a classifier read as an EBM, score them.

- :mod:`.seeds`     class-conditional starting points fitted on a track's training split
- :mod:`.sgld`      SGLD with momentum on the joint energy E(x, y) = -f(x)[y] (the built-in sampler)
- :mod:`.sampling`  the sampler contract (:class:`~.sampling.SampleRequest`) and the shared driver
- :mod:`.fidelity`  IS / FID / KID through ``torch_fidelity.calculate_metrics``, reference stats cached
- :mod:`.extractor` the digits feature extractor ("digits-cnn") registered with torch-fidelity
- :mod:`.grid`      a PNG grid of samples (one row per class)

See ``docs/generative.md``. Nothing here is imported when plugins are listed (torch is lazy).
"""
