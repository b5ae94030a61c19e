"""Structural checks of the package: no import cycle, plugins import only the public plugin API."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "benchbed"


PLUGIN_PACKAGES = sorted(p.parent for p in (REPO / "plugins").glob("*/*/__init__.py"))


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, root: Path = REPO, prefix: str = "benchbed") -> set[str]:
    """Every module of the package ``prefix`` (under ``root``) that ``path`` imports, at the top or inside
    a function (both can form a cycle)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only: no import at run time
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == prefix)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != prefix:
                continue
            for alias in node.names:  # `from . import plugins` imports a module, `from .x import f` module x
                candidate = f"{target}.{alias.name}"
                found.add(candidate if (root / (candidate.replace(".", "/") + ".py")).exists()
                          or (root / candidate.replace(".", "/")).is_dir() else target)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (``package``: benchbed/ or a plugin's package)."""
    root, prefix = package.parent, package.name
    modules = {_module_name(p, root): p for p in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path, name, root, prefix) if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the graph (as a list of modules), ignoring edges from a package to its own submodules
    (``benchbed/__init__.py`` re-exporting ``benchbed.api`` is not a cycle of code)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # parent package <-> its submodule
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_benchbed():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_worker_side_depends_on_nothing_above_it():
    graph = import_graph()
    above = {"benchbed.engine.scheduler", "benchbed.engine.runner", "benchbed.results.store", "benchbed.cli",
             "benchbed.leaderboard", "benchbed.engine.executors", "benchbed.api"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    bad = {m for m in reach("benchbed.engine.evaluation") if any(m == a or m.startswith(a + ".") for a in above)}
    assert not bad, f"benchbed.engine.evaluation reaches {sorted(bad)}"


def test_bundled_plugins_import_only_the_public_plugin_api():
    offenders = []
    for path in sorted((REPO / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                          if n.startswith("benchbed") and n != "benchbed.plugin" and not n.startswith("benchbed_")]
    assert not offenders, offenders


# -- size limits ---------------------------------------------------------------------------------------
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Temporary exceptions, "path" (or "path::function") -> why, each with its reason; none are needed today.
# An exception that is no longer needed fails too: delete its line.
LONG_MODULES: dict[str, str] = {}
LONG_FUNCTIONS: dict[str, str] = {}
PLUGIN_CYCLES: dict[str, str] = {}  # plugin package -> why its import cycle is tolerated for now


def _sources() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(p for pkg in PLUGIN_PACKAGES for p in pkg.rglob("*.py"))])


def _sizes(paths=None, root: Path = REPO) -> tuple[dict[str, int], dict[str, int]]:
    """Lines per module and per function (``path::name``; the longest of same-named functions)."""
    modules, functions = {}, {}
    for path in _sources() if paths is None else paths:
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        modules[rel] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[f"{rel}::{node.name}"] = max(functions.get(f"{rel}::{node.name}", 0),
                                                       node.end_lineno - node.lineno + 1)
    return modules, functions


def test_no_module_over_400_lines_and_no_function_over_80():
    modules, functions = _sizes()
    long_modules = {m: n for m, n in modules.items() if n > MAX_MODULE_LINES and m not in LONG_MODULES}
    long_functions = {f: n for f, n in functions.items() if n > MAX_FUNCTION_LINES and f not in LONG_FUNCTIONS}
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {long_modules}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines (split them): {long_functions}"


def test_size_exceptions_are_still_needed():
    modules, functions = _sizes()
    stale = [m for m in LONG_MODULES if modules.get(m, 0) <= MAX_MODULE_LINES]
    stale += [f for f in LONG_FUNCTIONS if functions.get(f, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"no longer over the limit (or gone): remove from the exceptions: {stale}"


def test_the_size_check_counts_modules_and_methods(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"class C:\n    def long(self):\n{body}\n\n\ndef short():\n    pass\n")
    modules, functions = _sizes([tmp_path / "m.py"], tmp_path)
    assert modules == {"m.py": MAX_FUNCTION_LINES + 6}
    assert functions == {"m.py::long": MAX_FUNCTION_LINES + 1, "m.py::short": 2}


# -- plugins' packages -----------------------------------------------------------------------------------
def test_bundled_plugin_packages_are_found():
    assert {p.name for p in PLUGIN_PACKAGES} >= {"benchbed_digits_zoo", "benchbed_aa_example",
                                                 "benchbed_joint_models", "benchbed_robustbench"}


def test_no_import_cycle_in_the_bundled_plugins():
    cycles = {pkg.name: find_cycle(import_graph(pkg)) for pkg in PLUGIN_PACKAGES}
    found = {name: cycle for name, cycle in cycles.items() if cycle and name not in PLUGIN_CYCLES}
    assert not found, "import cycle: " + "; ".join(" -> ".join(c) for c in found.values())
    stale = [name for name in PLUGIN_CYCLES if not cycles.get(name)]
    assert not stale, f"no cycle left in {stale}: remove it from PLUGIN_CYCLES"


# -- the module table of docs/architecture.md --------------------------------------------------------------
_ROW = re.compile(r"^\| `([^`]+\.py)` \| (.+) \| (.+) \|$")


def module_table() -> dict[str, list[str]]:
    """path (relative to benchbed/) -> what it may import, from the Modules section of docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if found := _ROW.match(line):
            rows[found.group(1)] = [part.strip().strip("`") for part in found.group(3).split(",")]
    return rows


def test_architecture_doc_lists_every_module_and_no_other():
    table = module_table()
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    missing, extra = sorted(modules - set(table)), sorted(set(table) - modules)
    assert not missing, f"docs/architecture.md's module table lacks {missing}: add one line each"
    assert not extra, f"docs/architecture.md's module table lists modules that do not exist: {extra}"


def _allowed(importer: str, imported: str, allowed: list[str]) -> bool:
    if allowed == ["everything below"] or imported.startswith(importer + "."):
        return True
    rel = imported.removeprefix("benchbed.")
    return any(a != "nothing" and (rel == a or rel.startswith(a + ".")) for a in allowed)


def test_modules_import_only_what_the_table_says():
    graph = import_graph()
    wrong = []
    for path, allowed in module_table().items():
        module = "benchbed." + path.removesuffix(".py").replace("/", ".")
        wrong += [f"{path} imports {m} (table: {', '.join(allowed)})" for m in sorted(graph.get(module, ()))
                  if not _allowed(module, m, allowed)]
    assert not wrong, "fix the import or docs/architecture.md: " + "; ".join(wrong)


def test_the_table_check_catches_a_wrong_line():
    assert not _allowed("benchbed.results.tables", "benchbed.engine.runner", ["contracts", "results"])
    assert _allowed("benchbed.results.tables", "benchbed.results.record", ["contracts", "results"])
    assert not _allowed("benchbed.functional.ood", "benchbed.contracts.errors", ["nothing"])


# -- one planning path ----------------------------------------------------------------------------------
def test_run_and_evaluate_share_the_planning_function(tiny_digits_mlp, tmp_path, monkeypatch):
    """`benchbed run` (runner) and `benchbed.evaluate` both plan a model through engine.planning.plan_model,
    and tell observers the same unit events with the same fields."""
    import benchbed
    from benchbed.contracts.specs import ModelSpec, ObserverSpec
    from benchbed.engine import planning
    from benchbed.engine.runner import run_track
    from benchbed.registry import PluginHost

    seen: list[tuple[str, str]] = []
    events: dict[str, list] = {"run": [], "api": []}
    which = ["run"]
    real = planning.plan_model

    def spy(model, *args, **kwargs):
        seen.append((which[0], model.name))
        return real(model, *args, **kwargs)

    class Plugin:
        @benchbed.plugin.hookimpl
        def register_models(self, register):
            register(ModelSpec(name="mlp", dataset="digits", threat_models=("Linf",), architecture="MLP",
                               recipe="standard", loader=lambda device: tiny_digits_mlp.to(device)))

        @benchbed.plugin.hookimpl
        def register_observers(self, register):
            register(ObserverSpec(name="spy", start=lambda run: events[which[0]].append))

    host = PluginHost(load_external=False)
    host.register(Plugin(), name="arch-test")
    monkeypatch.setattr(planning, "plan_model", spy)
    options = dict(n_examples=20, metrics=["clean_accuracy"], device="cpu", threads=1)
    run_track("digits-linf", ["mlp"], results_dir=tmp_path, registry=host.registry, show_progress=False,
              run_log=False, **options)
    which[0] = "api"
    benchbed.evaluate("mlp", track="digits-linf", registry=host.registry, progress=False, **options)
    assert seen == [("run", "mlp"), ("api", "mlp")]
    for kind in ("run_start", "unit_start", "metric_done", "unit_done", "run_end"):
        run_event = next(e for e in events["run"] if e.kind == kind)
        api_event = next(e for e in events["api"] if e.kind == kind)
        assert type(run_event) is type(api_event) and set(run_event.fields) == set(api_event.fields), kind
    starts = [next(e for e in events[w] if e.kind == "unit_start") for w in ("run", "api")]
    assert starts[0].key == starts[1].key and starts[0].metrics == starts[1].metrics == ["clean_accuracy"]
