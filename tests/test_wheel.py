"""The package runs installed from its wheel, not only as an editable checkout: built,
installed with --no-deps into a fresh venv (its third-party packages borrowed from this
one through a .pth file, so nothing is downloaded), and asked a question about the bundled
paper from a directory with no checkout in sight. Runtime data (the corpus, word lists,
fitted artefacts, the chat page) must come from the package itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.server]


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("dist")
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
        "--no-build-isolation", "--wheel-dir", str(out), str(source),
    )  # fmt: skip
    (built,) = out.glob("peerqa-*.whl")
    return built


def test_the_wheel_carries_the_runtime_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "peerqa/corpus/joo-2022-peer-support.txt",
        "peerqa/answer/models/selector.json",
        "peerqa/answer/data/intent.json",
        "peerqa/answer/profiles/joo-2022-peer-support.json",
        "peerqa/retrieval/models/ranker.json",
        "peerqa/retrieval/thesaurus.json",
        "peerqa/service/static/index.html",
        "peerqa/service/API.md",  # the contract /docs/API.md serves
        "peerqa/eval/questions.jsonl",  # what `peerqa eval` scores
        "peerqa/eval/test_split.txt",
        "peerqa/eval/train/intent.jsonl",  # what fit_decline fits the intent model on
        "peerqa/eval/papers/__main__.py",  # python -m peerqa.eval.papers
        "peerqa/eval/papers/questions.jsonl",
        "peerqa/eval/metrics/answers.py",
    ):
        assert data in names
    # the old top-level names are not installed into site-packages
    assert not {n.split("/")[0] for n in names} & {"answer", "service", "eval", "ingest"}


def test_the_installed_wheel_answers_with_citations(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())  # fmt: skip
    # this venv's third-party packages (not its peerqa: an editable install is a .pth
    # file, and .pth files in a directory added this way are not read)
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
        "--no-index", "--quiet", str(wheel))  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEERQA_", "PYTHON"))}
    env |= {"PEERQA_DATA_DIR": str(tmp_path / "data")}
    where = run(str(python), "-c", "import peerqa.config as c; print(c.PACKAGE_DIR)",
                cwd=tmp_path, env=env).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(site)

    peerqa = str(venv / "bin" / "peerqa")
    run(peerqa, "ingest", cwd=tmp_path, env=env)
    out = run(peerqa, "ask", "How did programmes convince sceptical physicians?", "--json",
              cwd=tmp_path, env=env)  # fmt: skip
    answer = json.loads(out.stdout)
    assert not answer["abstained"]
    assert answer["citations"]
    source = (Path(where) / "corpus" / "joo-2022-peer-support.txt").read_text(encoding="utf-8")
    for citation in answer["citations"]:
        assert citation["marker"] in answer["answer"]
        assert citation["text"] in source  # verbatim from the packaged paper

    # `peerqa eval` runs from the wheel: its questions, frozen test split and every gold
    # snippet are found in the package (the full run takes minutes, so it stops there), and
    # its reports go to the data dir, not into site-packages.
    probe = (
        "from peerqa.config import get_settings\n"
        "from peerqa.eval.questions import frozen_test_split, gold_spans, load_questions\n"
        "from peerqa.eval.run import REPORTS_DIR, corpus_sources\n"
        "questions, frozen = load_questions(), frozen_test_split()\n"
        "sources = corpus_sources(get_settings())\n"
        "assert all(gold_spans(q, sources) for q in questions if q.gold)\n"
        "print(len(questions), len(frozen), sum(q.split == 'test' for q in questions),"
        " REPORTS_DIR.is_dir())\n"
    )
    n, frozen, test, reports = run(str(python), "-c", probe, cwd=tmp_path, env=env).stdout.split()
    assert int(n) > 1000 and int(frozen) == int(test) > 0
    assert reports == "False"  # no reports shipped: `peerqa eval` writes DATA_DIR/eval-reports
    assert "--out" in run(peerqa, "eval", "--help", cwd=tmp_path, env=env).stdout

    # The user papers' measurement runs from the wheel on papers it is given (the fixtures
    # are a checkout's): one held-out paper, its questions alone, retrieval only.
    papers = tmp_path / "papers"
    papers.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "papers" / "paper_1409.md", papers)
    report = tmp_path / "papers.json"
    run(str(python), "-m", "peerqa.eval.papers", "--formats", "md", "--papers", str(papers),
        "--no-answers", "--no-bundled", "--skip-bundled-alone", "--out", str(report),
        cwd=tmp_path, env=env)  # fmt: skip
    (measured,) = json.loads(report.read_text(encoding="utf-8"))["formats"]
    assert measured["passages"] > 20
    assert list(measured["retrieval"]) == ["test"]  # paper_1409 is a held-out paper
    assert measured["retrieval"]["test"]["questions"] == 7
    assert measured["retrieval"]["test"]["recall@5"] > 0
