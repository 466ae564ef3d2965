"""The package's floors point one way: a module imports from its own floor or lower, never
from a higher one. Read from the source with ast, so an import inside a function counts the
same as one at the top of a module (lazy imports are how upward dependencies hide)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "peerqa"

# Lowest first. A module's floor is that of its longest matching prefix.
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    # domain types, settings, the embedding model, sentence segmentation
    ("domain", ("peerqa",)),
    # source documents -> passages (the readers and the paper parser)
    ("ingest", ("peerqa.ingest",)),
    # the vector store and its writer's lock
    ("store", ("peerqa.store",)),
    # index -> ranked passages
    ("retrieval", ("peerqa.retrieval",)),
    # the writer: parses (ingest), stores (store) and derives retrieval's token vectors
    ("index", ("peerqa.index",)),
    # question -> cited answer or an honest decline
    ("answer", ("peerqa.answer",)),
    # HTTP, OpenAI-compatible and MCP faces
    ("service", ("peerqa.service",)),
    # scoring and fitting, beside the product
    ("eval", ("peerqa.eval",)),
    # the command line, on top: imported by nothing
    ("cli", ("peerqa.cli",)),
]
RANK = {prefix: rank for rank, (_, prefixes) in enumerate(FLOORS) for prefix in prefixes}
TOOLS = ("bench", "soak", "scripts")  # dev tools run from a checkout, above everything


def floor(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if (prefix := ".".join(parts[:n])) in RANK:
            return RANK[prefix]
    return None


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from peerqa import cli` imports peerqa.cli; `from peerqa.config import
            # Settings` sits on peerqa.config's floor (the longest known prefix)
            found += [(node.lineno, f"{base}.{a.name}".rstrip(".*")) for a in node.names]
    return found


def package_modules() -> list[tuple[Path, str]]:
    return [(p, module_name(p, PACKAGE.parent)) for p in sorted(PACKAGE.rglob("*.py"))]


def upward(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, target) of each import from a higher floor or from a dev tool."""
    own = floor(module)
    return [
        (line, target)
        for line, target in imports(path, module)
        if target.split(".")[0] in TOOLS + ("tests",)
        or ((theirs := floor(target)) is not None and own is not None and theirs > own)
    ]


def test_no_module_imports_from_a_higher_floor():
    modules = package_modules()
    assert len(modules) > 50  # the walk found the package
    bad = [
        f"{path.relative_to(ROOT)}:{line} ({FLOORS[floor(module)][0]}) imports {target}"
        for path, module in modules
        for line, target in upward(path, module)
    ]
    assert not bad, "\n".join(bad)


def test_the_cli_is_imported_by_nothing_in_the_package_or_its_tools():
    files = package_modules() + [
        (p, module_name(p, ROOT)) for tool in TOOLS for p in sorted((ROOT / tool).rglob("*.py"))
    ]
    bad = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, module in files
        if module != "peerqa.cli"
        for line, target in imports(path, module)
        if target == "peerqa.cli" or target.startswith("peerqa.cli.")
    ]
    assert not bad, bad


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # a lazy import from a higher floor, inside a function
        ("peerqa.answer.x", "def f():\n    from peerqa.eval.run import run_eval\n", 1),
        # relative imports resolve to their package
        ("peerqa.ingest.x", "from ..service import app\n", 1),
        ("peerqa.ingest.readers.x", "from .. import paper\n", 0),
        ("peerqa.store", "from peerqa.retrieval import hybrid\n", 1),
        ("peerqa.service.x", "from peerqa.answer.compose import compose\n", 0),
        ("peerqa.retrieval.x", "import peerqa.config\n", 0),
        ("peerqa.ingest.x", "from peerqa import cli\n", 1),
        ("peerqa.eval.x", "import bench.run\n", 1),
    ],
)
def test_the_walk_catches_an_upward_import(tmp_path, module, source, expected):
    probe = tmp_path / "probe.py"
    probe.write_text(source, encoding="utf-8")
    assert len(upward(probe, module)) == expected
