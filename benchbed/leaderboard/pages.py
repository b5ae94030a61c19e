"""Page addresses of the site: a track at ``tracks/<name>.html``, a model at ``models/<name>.html``.

The address is the name itself -- its "/" namespaces as folders, characters a file name cannot hold as
"_" -- so links stay put across re-renders. Only names whose paths would collide (differing in case,
or in characters mapped to "_") get a suffix: "-" and 8 hex digits of the name's sha256.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

_PAGE_STEMS: ContextVar[Mapping[str, Mapping[str, str]] | None] = ContextVar("page_stems", default=None)


def readable_stem(name: str) -> str:
    return "/".join(re.sub(r"[^A-Za-z0-9._-]", "_", part).lstrip(".") or "_" for part in name.split("/"))


def _collision_key(stem: str) -> str:
    # case-insensitive file systems; a page's downloads add ".records.json" etc. to its stem
    key = stem.lower()
    return key[: -len(".records")] if key.endswith(".records") else key


def page_stems(names: Sequence[str]) -> dict[str, str]:
    """Each name's page path (without extension); a suffix only for names that would collide."""
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        groups.setdefault(_collision_key(readable_stem(name)), []).append(name)
    out = {}
    for members in groups.values():
        for name in members:
            stem = readable_stem(name)
            if len(members) > 1:
                stem = f"{stem}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
            out[name] = stem
    return out


@contextmanager
def page_names(tracks: Sequence[str], models: Sequence[str]) -> Iterator[None]:
    """Within: page addresses know every track and model of the site (collisions get their suffix)."""
    token = _PAGE_STEMS.set({"tracks": page_stems(tracks), "models": page_stems(models)})
    try:
        yield
    finally:
        _PAGE_STEMS.reset(token)


def page_base(kind: str, name: str) -> str:
    """``tracks/<stem>`` or ``models/<stem>``: a page's path from the site's root, without extension."""
    known = _PAGE_STEMS.get() or {}
    return f"{kind}/{known.get(kind, {}).get(name) or readable_stem(name)}"


def track_page(track: str) -> str:
    return page_base("tracks", track) + ".html"


def model_page(model: str) -> str:
    return page_base("models", model) + ".html"


def page_root(page: str) -> str:
    """The relative way from ``page`` back to the site's root ("" for index.html, "../" for tracks/x.html)."""
    return "../" * page.count("/")
