"""Parse-only figures for the fixture papers (no embeddings, seconds to run):
`python eval/papers/parse_stats.py [CODE_DIR]` reads every paper as Markdown, TEI and PDF
with the ingest code in CODE_DIR (default: this checkout) and prints, per format, the
share of passages that are reference entries, list items or furniture/declarations,
passages over the word cap, table rows with their column names, tab runs in passage
text, passages whose citations resolve, and metadata completeness."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def stats(files: list[Path]) -> dict:
    from peerqa.eval.papers.__main__ import NOT_EVIDENCE
    from peerqa.ingest.prose import parse_user_document

    passages, infos = [], []
    for f in files:
        doc = parse_user_document(f, 120)
        passages += doc.passages
        infos.append(doc.info)
    n = len(passages)
    return {
        "passages": n,
        "reference_kind_share": round(sum(p.kind == "reference" for p in passages) / n, 3),
        "list_item_share": round(sum(p.kind == "list_item" for p in passages) / n, 3),
        "furniture_or_declaration_share": round(
            sum(bool(NOT_EVIDENCE.search(p.text)) for p in passages) / n, 3
        ),
        "passages_over_180_words": sum(len(p.text.split()) > 180 for p in passages),
        "max_words": max(len(p.text.split()) for p in passages),
        "table_rows": sum(p.kind == "table_row" for p in passages),
        "table_rows_with_header": sum(
            p.kind == "table_row" and bool(getattr(p, "header", None)) for p in passages
        ),
        "passages_with_tab_runs": sum("    " in p.text or "\t" in p.text for p in passages),
        "passages_with_resolved_citations": sum(
            bool(p.references) for p in passages if p.kind != "reference"
        ),
        "metadata_complete": f"{sum(bool(i.authors and i.year and i.journal) for i in infos)}"
        f"/{len(infos)}",
    }


def main() -> None:
    code = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    sys.path.insert(0, str(code))
    sys.path.insert(1, str(ROOT))
    sys.path.insert(2, str(ROOT / "tests" / "fixtures"))
    from make_pdfs import write_pdf

    papers = ROOT / "tests" / "fixtures" / "papers"
    out: dict = {"code": str(code)}
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = [write_pdf(md, Path(tmp)) for md in sorted(papers.glob("paper_*.md"))]
        for fmt, files in (
            ("md", sorted(papers.glob("paper_*.md"))),
            ("tei", sorted(papers.glob("paper_*.tei.xml"))),
            ("pdf", pdfs),
        ):
            try:
                out[fmt] = stats(files)
            except Exception as exc:  # the code measured may not read this format
                out[fmt] = {"error": str(exc)[:160]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
