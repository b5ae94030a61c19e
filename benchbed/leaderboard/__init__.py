"""Static leaderboard pages rendered with jinja2 (autoescaping on) from the results store.

``render_site(results_dir, out_dir)`` writes an index, one page per track and one per model, plus
CSV/JSON downloads, into a self-contained folder (see ``docs/leaderboard.md``).
"""
from __future__ import annotations

from benchbed.leaderboard.site import DEFAULT_SITE, default_site_for, environment, render_site

__all__ = ["DEFAULT_SITE", "default_site_for", "environment", "render_site"]
