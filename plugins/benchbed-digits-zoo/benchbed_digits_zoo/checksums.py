"""The shipped checkpoints (``checkpoints/<name>.pt``) and the sha256 of each, checked by every load.

These are properties of the shipped files, whatever machine made them: standard, PGD-AT, TRADES and
WEAT_adv were trained on the original platform, the others on the AVX-512 machine recorded in
``platforms.json``. What a *retrain* gives depends on the platform; that is the table in
``platforms.json`` (see reproduction.py). Plain data: no torch, cheap to import.
"""
from __future__ import annotations

from pathlib import Path

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

CHECKSUMS: dict[str, str] = {
    "digits-cnn-standard": "2b5fd274862946d2bd28890fabf063fbe9d77e580fbcac2d27d2845ee1582f77",
    "digits-cnn-pgdat": "40db41cf67f231a17fd5811fc2f41d0b2c02d4bea88eb9e1f1e40e6f60889a4f",
    "digits-cnn-trades": "59580de41af1d0b0d38a6be154cfa2a915bb24aea93f712e387839c74b0a2bc5",
    "digits-cnn-weat": "a5ab20cfb3cd3391e1307218ea23e96bec480126521eaab028a92a0596227b9a",
    "digits-cnn-weat-nat": "e3b84361f1a2af6a92c6b1abb6b4e54a8df7bc6052831f05ee21da7062d72faa",
    "digits-cnn-jem": "7959168666e0e1ba2a31d1c202b9d12e0561975880efd2b38c1fbbba58e7f727",
    "digits-cnn-dat": "2132ebf1a9966320f82238c447da5e255ca57899877f1b215b83275b3b86551b",
}


def checkpoint_path(name: str, folder: Path | None = None) -> Path:
    """Where model ``name``'s checkpoint lives (the shipped folder unless ``folder`` is given)."""
    return (folder or CHECKPOINT_DIR) / f"{name}.pt"
