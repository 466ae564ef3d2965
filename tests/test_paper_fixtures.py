"""The real papers in tests/fixtures/papers and their questions (eval/papers/questions.jsonl):
each Markdown file is its TEI converted mechanically, and each gold span is verbatim in
the Markdown of the paper it is about."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PAPERS = FIXTURES / "papers"
QUESTIONS = Path(__file__).parents[1] / "src/peerqa/eval" / "papers" / "questions.jsonl"
sys.path.insert(0, str(FIXTURES))
from make_markdown import convert  # noqa: E402

HELD_OUT = {"paper_1409", "paper_1872"}


@pytest.mark.parametrize("tei", sorted(PAPERS.glob("paper_*.tei.xml")), ids=lambda p: p.name)
def test_each_markdown_is_its_kb_header_then_its_tei_converted(tei: Path):
    markdown = (PAPERS / tei.name.replace(".tei.xml", ".md")).read_text(encoding="utf-8")
    body = convert("", tei.read_bytes()).removeprefix("\n\n")
    assert markdown.endswith("\n\n" + body)
    header = markdown[: -len(body)]
    assert header.startswith("# ") and "\n## Abstract\n" in header


def test_every_gold_is_verbatim_in_its_papers_markdown_and_splits_are_by_paper():
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == len(rows)
    per_paper: dict[str, int] = {}
    for r in rows:
        assert r["split"] == ("test" if r["paper"] in HELD_OUT else "dev"), r["id"]
        assert isinstance(r["names_paper"], bool) and r["literature"] is False
        markdown = (PAPERS / f"{r['paper']}.md").read_text(encoding="utf-8")
        assert r["gold"] and all(g in markdown for g in r["gold"]), r["id"]
        per_paper[r["paper"]] = per_paper.get(r["paper"], 0) + 1
    # Every fixture paper is asked about, enough to measure it on its own.
    assert set(per_paper) == {p.name.removesuffix(".md") for p in PAPERS.glob("paper_*.md")}
    assert min(per_paper.values()) >= 7
