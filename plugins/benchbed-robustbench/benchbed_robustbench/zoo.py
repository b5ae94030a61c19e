"""RobustBench's model zoo and its published numbers, read from the installed ``robustbench``
distribution WITHOUT importing it (importing it costs seconds: timm, every architecture).

- **Which models exist** (model id, threat model, Google Drive id, constructor, preprocessing): parsed
  with :mod:`ast` from ``robustbench/model_zoo/cifar10.py``, ``cifar100.py`` and ``imagenet.py`` (the ``OrderedDict``
  tables RobustBench's own ``load_model`` reads). Should the files' layout change, we fall back to
  importing ``robustbench.model_zoo``.
- **Metadata and published numbers**: the robustbench wheel does not ship RobustBench's
  ``model_info/<dataset>/<threat>/<ModelId>.json`` files. It ships its README as the package
  description (``robustbench-*.dist-info/METADATA``), whose "Model Zoo" tables give, per model id:
  paper title and link, clean accuracy, AutoAttack (robust) accuracy, architecture and venue. That is
  what we read. Missing from it: authors, ``additional_data`` (extra training data),
  ``number_forward_passes``, the accuracy the paper itself reported, footnotes, the ``unreliable``
  flag. Point ``BENCHBED_ROBUSTBENCH_MODEL_INFO`` at the ``model_info`` folder of a RobustBench
  checkout to read those JSON files instead (they win over the README where both exist).
"""
from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_MODEL_INFO = "BENCHBED_ROBUSTBENCH_MODEL_INFO"

# (RobustBench dataset, RobustBench threat model) -> the benchbed track its models are registered for.
TRACKS = {
    ("cifar10", "Linf"): "cifar10-linf",
    ("cifar10", "L2"): "cifar10-l2",
    ("cifar100", "Linf"): "cifar100-linf",
    ("imagenet", "Linf"): "imagenet-linf",
}
# model_zoo module and the name of its top-level {ThreatModel: OrderedDict} table, per dataset.
ZOO_FILES = {"cifar10": ("cifar10.py", "cifar_10_models"), "cifar100": ("cifar100.py", "cifar_100_models"),
             "imagenet": ("imagenet.py", "imagenet_models")}
# ImageNet models are evaluated on images RobustBench preprocessed this way (benchbed's imagenet track).
IMAGENET_PREPROCESSING = "Res256Crop224"
# README headings -> RobustBench names.
README_DATASETS = {"CIFAR-10": "cifar10", "CIFAR-100": "cifar100", "ImageNet": "imagenet"}


@dataclass(frozen=True)
class ZooEntry:
    """One model of RobustBench's zoo, plus whatever metadata RobustBench ships for it."""

    model_id: str
    dataset: str  # RobustBench's: cifar10 | cifar100
    threat_model: str  # RobustBench's: Linf | L2
    gdrive_ids: tuple[str, ...] = ()  # one id; several for ensembles (files <ModelId>.pt_m<i>.pt)
    constructor: str = ""  # source of the zoo's 'model' value, e.g. "lambda: WideResNet(depth=28, ...)"
    preprocessing: str = ""  # RobustBench's preprocessing name (ImageNet: "Res256Crop224", "Crop288", ...)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def track(self) -> str:
        return TRACKS[(self.dataset, self.threat_model)]

    @property
    def ensemble(self) -> bool:
        return len(self.gdrive_ids) > 1

    @property
    def hub_weights(self) -> bool:
        """ImageNet models without a Google Drive file: robustbench's load_model takes their weights from
        torchvision (Standard_R50) or timm's hub, not from a checkpoint folder."""
        return self.dataset == "imagenet" and not self.gdrive_ids


# -- the zoo tables ---------------------------------------------------------------------------------
def robustbench_dir() -> Path | None:
    """The installed robustbench package folder, found without importing it (None if absent)."""
    spec = importlib.util.find_spec("robustbench")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _ordered_dict_items(node: ast.AST) -> list[ast.Tuple] | None:
    """The (key, value) tuples of ``OrderedDict([...])``, or None if ``node`` is not one."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "OrderedDict"
            and len(node.args) == 1 and isinstance(node.args[0], ast.List)):
        items = node.args[0].elts
        if all(isinstance(t, ast.Tuple) and len(t.elts) == 2 for t in items):
            return items
    return None


def _gdrive_ids(node: ast.AST) -> tuple[str, ...]:
    value = ast.literal_eval(node)
    if value is None:
        return ()
    ids = tuple(value) if isinstance(value, (list, tuple)) else (str(value),)
    return tuple(i for i in ids if i)  # '' = no file (ImageNet's Standard_R50: torchvision's weights)


def parse_zoo_source(source: str, dataset: str, table: str) -> list[ZooEntry]:
    """Entries of one model_zoo file, for the threat models benchbed has tracks for."""
    tree = ast.parse(source)
    tables: dict[str, list[ast.Tuple]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            items = _ordered_dict_items(node.value)
            if items is not None:
                tables[node.targets[0].id] = items
    if table not in tables:
        raise ValueError(f"no table {table!r}")
    entries = []
    for item in tables[table]:
        threat_node, var_node = item.elts
        threat = threat_node.attr if isinstance(threat_node, ast.Attribute) else ast.literal_eval(threat_node)
        if (dataset, threat) not in TRACKS:
            continue  # corruptions: no benchbed track
        for model_item in tables[var_node.id]:
            key_node, spec_node = model_item.elts
            model_id = ast.literal_eval(key_node)
            fields: dict[str, ast.AST] = {}
            for k, v in zip(spec_node.keys, spec_node.values):
                fields[ast.literal_eval(k)] = v  # a repeated key: the last one wins, as in Python
            constructor = ast.get_source_segment(source, fields["model"]) if "model" in fields else ""
            preprocessing = ast.literal_eval(fields["preprocessing"]) if "preprocessing" in fields else ""
            entries.append(ZooEntry(
                model_id=model_id, dataset=dataset, threat_model=threat,
                gdrive_ids=_gdrive_ids(fields["gdrive_id"]) if "gdrive_id" in fields else (),
                constructor=" ".join((constructor or "").split()), preprocessing=str(preprocessing or ""),
            ))
    return entries


def _zoo_by_import() -> list[ZooEntry]:
    """Slow path (imports robustbench's model zoo): used only when its source cannot be parsed."""
    from .loading import import_robustbench

    model_zoo = import_robustbench("model_zoo")
    entries = []
    for dataset_enum, by_threat in model_zoo.model_dicts.items():
        for threat_enum, models in by_threat.items():
            key = (dataset_enum.value, threat_enum.value)
            if key not in TRACKS:
                continue
            for model_id, spec in models.items():
                gid = spec.get("gdrive_id")
                ids = () if gid is None else (tuple(gid) if isinstance(gid, (list, tuple)) else (str(gid),))
                entries.append(ZooEntry(model_id, key[0], key[1], tuple(i for i in ids if i),
                                        getattr(spec["model"], "__name__", ""), str(spec.get("preprocessing") or "")))
    return entries


def zoo_entries() -> list[ZooEntry]:
    """Every RobustBench zoo model benchbed has a track for, with its metadata attached."""
    root = robustbench_dir()
    if root is None:
        raise ModuleNotFoundError("robustbench")
    entries: list[ZooEntry] = []
    try:
        for dataset, (filename, table) in ZOO_FILES.items():
            source = (root / "model_zoo" / filename).read_text(encoding="utf-8")
            entries.extend(parse_zoo_source(source, dataset, table))
    except (OSError, SyntaxError, ValueError, KeyError, AttributeError):
        entries = _zoo_by_import()
    readme = readme_rows()
    override = Path(os.environ[ENV_MODEL_INFO]) if os.environ.get(ENV_MODEL_INFO) else None
    out = []
    for entry in entries:
        meta = dict(readme.get((entry.dataset, entry.threat_model, entry.model_id), {}))
        if override is not None:
            meta.update(model_info_json(override, entry))
        out.append(ZooEntry(entry.model_id, entry.dataset, entry.threat_model, entry.gdrive_ids,
                            entry.constructor, entry.preprocessing, meta))
    return out


# -- the README tables ------------------------------------------------------------------------------
_MARKUP = re.compile(r"</?(sub|sup)>")
_LINK = re.compile(r"\[(?P<title>.*)\]\((?P<link>[^)\s]+)\)")
_PERCENT = re.compile(r"^(?P<value>-?\d+(?:\.\d+)?)\s*%$")


def _clean_cell(cell: str) -> str:
    return _MARKUP.sub("", cell).strip().strip("*").strip()


def _percent(text: str) -> float | None:
    match = _PERCENT.match(text.replace(" ", ""))
    return float(match["value"]) if match else None


def parse_readme(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """RobustBench README "Model Zoo" rows -> {(dataset, threat, model id): metadata}.

    Reads the ``### <dataset>`` / ``#### <threat>, eps=...`` sections and their tables
    ``| # | Model ID | Paper | Clean accuracy | Robust accuracy | Architecture | Venue |``.
    """
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    dataset = threat = eps = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("### ") and not stripped.startswith("####"):
            dataset = README_DATASETS.get(stripped[4:].strip().strip("*").strip())
            threat = None
            continue
        if stripped.startswith("#### "):
            heading = stripped[5:].strip()
            match = re.match(r"^(Linf|L2|L1)\s*,\s*eps\s*=\s*(\S+)", heading)
            threat, eps = (match[1], match[2]) if match else (None, None)
            continue
        if not (dataset and threat and stripped.startswith("|")):
            continue
        cells = [_clean_cell(c) for c in stripped.strip("|").split("|")]
        if len(cells) < 7 or not cells[0].isdigit():
            continue  # header or separator row
        rank, model_id, paper, clean, robust, architecture, venue = cells[:7]
        link_match = _LINK.search(paper)
        title, link = (link_match["title"].strip().strip("*"), link_match["link"]) if link_match else (paper, "")
        rows[(dataset, threat, model_id)] = {
            "rank": int(rank), "name": title, "link": link, "clean_acc": _percent(clean),
            "autoattack_acc": _percent(robust), "architecture": architecture, "venue": venue, "eps": eps,
            "source": "robustbench README (package METADATA)",
        }
    return rows


@functools.lru_cache(maxsize=1)
def readme_rows() -> dict[tuple[str, str, str], dict[str, Any]]:
    try:
        text = md.distribution("robustbench").read_text("METADATA") or ""
    except md.PackageNotFoundError:
        return {}
    return parse_readme(text)


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def model_info_json(folder: Path, entry: ZooEntry) -> dict[str, Any]:
    """Fields of RobustBench's ``model_info/<dataset>/<threat>/<ModelId>.json``, if that file exists."""
    path = folder / entry.dataset / entry.threat_model / f"{entry.model_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {"source": f"model_info json ({path})"}
    for key in ("name", "link", "authors", "venue", "architecture", "eps", "footnote"):
        if data.get(key) not in (None, ""):
            out[key] = str(data[key])
    for key in ("additional_data", "unreliable"):
        if key in data:
            out[key] = bool(data[key])
    if "number_forward_passes" in data:
        out["number_forward_passes"] = data["number_forward_passes"]
    for key in ("clean_acc", "autoattack_acc", "reported"):
        value = _number(data.get(key))
        if value is not None:
            out[key] = value
    return out
