"""Fixtures of the digits-zoo training tests (retraining, platforms, training series)."""
from __future__ import annotations

import pytest

pytest.importorskip("benchbed_digits_zoo.plugin",
                    reason="plugin not installed: pip install -e plugins/benchbed-digits-zoo")


@pytest.fixture(scope="session")
def canary() -> str:
    """This machine's platform canary (retrains digits-cnn-standard once per process, ~5 s)."""
    from benchbed_digits_zoo import reproduction

    return reproduction.platform_canary()


@pytest.fixture
def known_platform(canary) -> dict:
    """This platform's table entry; the test is skipped, saying why, on an unknown platform."""
    from benchbed_digits_zoo import reproduction

    entry = reproduction.entry(canary)
    if entry is None:
        pytest.skip(reproduction.unknown_platform_message(canary))
    return entry
