"""A unit's CPU threads: torch's intra-op pool and the BLAS pool numpy and scipy use, set together.

Setting torch's alone leaves OpenBLAS at one thread per CPU: two units side by side then each run their
matrix products (KID's kernels, FID's square root) on every CPU, and the products' last digits depend on
how many threads split them, so a machine with more cores would not reproduce published replicates.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unit_threads(threads: int | None) -> Iterator[None]:
    """Run the block at ``threads`` torch and BLAS threads (``None``/0: leave both as they are)."""
    if not threads:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(saved)
