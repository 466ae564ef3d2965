"""The package declares what it imports: every third-party module imported under src/peerqa
comes from a distribution named in pyproject.toml (the evaluation's own in the `eval` extra),
so an install resolves it instead of finding it by luck among another package's
dependencies."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "peerqa"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# eval/papers reads the fixture PDFs' maker from tests/fixtures (a checkout-only tool)
CHECKOUT_ONLY = {"make_pdfs"}


def distribution(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def imported(paths) -> dict[str, str]:
    """Top-level third-party module -> one file importing it."""
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("peerqa", "__future__"):
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def undeclared(modules: dict[str, str], declared: set[str]) -> list[str]:
    dists = packages_distributions()
    return [
        f"{module} ({file}): one of {dists.get(module, ['?'])}"
        for module, file in sorted(modules.items())
        if module not in CHECKOUT_ONLY
        and not {distribution(d) for d in dists.get(module, [])} & declared
    ]


def test_the_product_declares_every_distribution_it_imports():
    runtime = [p for p in PACKAGE.rglob("*.py") if "eval" not in p.relative_to(PACKAGE).parts]
    declared = {distribution(d) for d in PROJECT["dependencies"]}
    assert not undeclared(imported(runtime), declared)


def test_the_evaluation_declares_its_own_in_the_eval_extra():
    declared = {
        distribution(d) for d in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["eval"]
    }
    assert not undeclared(imported((PACKAGE / "eval").rglob("*.py")), declared)


def test_a_missing_declaration_is_named():
    modules = {"numpy": "src/peerqa/x.py", "Stemmer": "src/peerqa/y.py"}
    assert [m.split(" ")[0] for m in undeclared(modules, {"torch"})] == ["Stemmer", "numpy"]
