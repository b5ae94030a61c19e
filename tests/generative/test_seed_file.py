"""seed_kind "file:PATH": a user-supplied seed tensor (e.g. DAT's cifar_fid_imgs_50K.pt), used in file order."""
import dataclasses

import pytest
import torch

from benchbed.contracts.errors import ConfigError
from benchbed.generative.sampling import draw_samples


def _track(small_track, seed_kind, **options):
    gen = dataclasses.replace(small_track.generation, sampler="dat-pgd", seed_kind=seed_kind, options=options,
                              batch_size=7)
    return small_track.replace(generation=gen)


def test_samples_start_from_the_files_rows_in_order(tiny_digits_mlp, small_track, registry, tmp_path):
    rows = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "seeds.pt"
    torch.save(rows, path)
    ds = registry.datasets.get("digits")
    x, labels, stats = draw_samples(tiny_digits_mlp, _track(small_track, f"file:{path}", steps=0), ds, registry,
                                    "cpu", n=20, progress=False)
    assert torch.equal(x, rows[:20])  # zero steps: the seeds themselves, row n for sample n, across chunks of 7
    assert labels.tolist() == [i % 10 for i in range(20)]  # DAT pairs row n with class n % K
    assert stats["seed_kind"] == f"file:{path}"


@pytest.mark.parametrize("content, message", [
    (None, "not found"), (torch.rand(5, 3, 8, 8), "expected a tensor"), (torch.rand(5, 1, 8, 8) + 1, "in \\[0, 1\\]"),
    (torch.rand(5, 1, 8, 8), "holds 5 seeds"),
])
def test_a_bad_seed_file_is_one_line(content, message, tiny_digits_mlp, small_track, registry, tmp_path):
    path = tmp_path / "seeds.pt"
    if content is not None:
        torch.save(content, path)
    with pytest.raises(ConfigError, match=message):
        draw_samples(tiny_digits_mlp, _track(small_track, f"file:{path}", steps=0), registry.datasets.get("digits"),
                     registry, "cpu", n=20, progress=False)
