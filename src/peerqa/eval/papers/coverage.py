"""Gold-span extraction check (parse only, no embeddings, seconds a format):
`python -m peerqa.eval.papers.coverage [--formats md,tei,jats,pdf] [--split dev]`.

For every question of the split (dev by default; the test split's questions are never
read here unless asked for, and then only the summary line is printed), each format's
reading of the paper is checked for the gold span:
- `in_text`: the gold is in the extracted text (after undoing whitespace, ligatures,
  quotes and case, as `eval.papers.locate` does);
- `in_passages`: every character of one occurrence lies inside the paper's passages
  (so no sentence of it was dropped as furniture or left out of a passage);
- `in_one_passage`: one passage holds the whole gold span.
A miss names the question, format and the gold's first words, for error analysis.

`--units` checks the PDFs without questions: every sentence, abstract part, caption,
table cell and reference entry make_pdfs.py prints from a paper's Markdown must come back
in that PDF's passages (dev papers listed; held-out papers only as counts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from peerqa.eval.papers.__main__ import PAPERS, QUESTIONS, SUFFIX, load, locate

FIXTURES = PAPERS.parent


def files(fmt: str, tmp: Path) -> dict[str, Path]:
    """paper_NNNN -> its file in this format (PDFs made from the Markdown)."""
    if fmt == "pdf":
        sys.path.insert(0, str(FIXTURES))
        from make_pdfs import write_pdf

        return {md.stem: write_pdf(md, tmp) for md in sorted(PAPERS.glob("paper_*.md"))}
    return {f.name.split(".", 1)[0]: f for f in sorted(PAPERS.glob(f"paper_*{SUFFIX[fmt]}"))}


def covered(spans: list[tuple[int, int]], text: str, start: int, end: int) -> bool:
    return all(text[i].isspace() or any(s <= i < e for s, e in spans) for i in range(start, end))


def check(fmt: str, questions: list[dict], tmp: Path) -> dict:
    from peerqa.ingest.prose import parse_user_document

    found = files(fmt, tmp)
    docs = {}
    out = {"questions": 0, "in_text": 0, "in_passages": 0, "in_one_passage": 0, "misses": []}
    for q in questions:
        path = found.get(q["paper"])
        if path is None:
            continue
        if q["paper"] not in docs:
            docs[q["paper"]] = parse_user_document(path, 120)
        doc = docs[q["paper"]]
        spans = [(p.char_start, p.char_end) for p in doc.passages]
        where = locate(doc.text, q["gold"])
        out["questions"] += 1
        text = bool(where)
        whole = any(covered(spans, doc.text, s, e) for _, s, e in where)
        one = any(any(ps <= s and e <= pe for ps, pe in spans) for _, s, e in where)
        out["in_text"] += text
        out["in_passages"] += whole
        out["in_one_passage"] += one
        if not one and q["split"] != "test":
            stage = "in_one_passage" if whole else "in_passages" if text else "in_text"
            out["misses"].append(f"{q['id']} {q['paper']} fails {stage}: {q['gold'][0][:80]}")
    if any(q["split"] == "test" for q in questions):
        out.pop("misses")
    return out


def printed_units(md: Path) -> list[tuple[str, str]]:
    """(kind, text) of everything make_pdfs.py prints from this Markdown as evidence."""
    from make_pdfs import read_markdown

    from peerqa.ingest.readers.base import DOI, abstract_parts, is_declaration_section, not_evidence
    from peerqa.segment import sentence_spans

    paper = read_markdown(md)

    def sentences(text: str) -> list[str]:
        return [text[s:e] for s, e in sentence_spans(text, 0, len(text))]

    # A part's inline label ("Design: A cohort…") is kept as its label, out of the text.
    units = []
    for _, part in paper.abstract:
        for sentence in sentences(part):
            parts = abstract_parts(sentence, 0, len(sentence))
            units += [("abstract", sentence[s:e]) for _, s, e in parts]
    for heading, paragraphs in paper.sections:
        if is_declaration_section([heading]):
            continue  # funding, contributions, conflicts: dropped by design
        kind = "caption" if not heading else "sentence"
        units += [(kind, s) for p in paragraphs for s in sentences(p) if not not_evidence(s)]
    for caption, rows in paper.tables:
        units.append(("table caption", caption.split(". ", 1)[-1]))
        units += [("table cell", c) for row in rows for c in row if c.strip() and not DOI.search(c)]
    units += [("reference", r) for r in paper.references if not not_evidence(r)]
    return units


def units(papers: list[str], tmp: Path, show: bool) -> dict:
    from peerqa.ingest.prose import parse_user_document

    sys.path.insert(0, str(FIXTURES))
    from make_pdfs import write_pdf

    from peerqa.eval.papers.__main__ import norm

    out: dict = {}
    for name in papers:
        md = PAPERS / f"{name}.md"
        doc = parse_user_document(write_pdf(md, tmp), 120)
        # A unit may run across passages (a sentence a chunk boundary or a page cut).
        flat = " ".join(norm(p.text) for p in doc.passages)
        flat += " ".join(norm(p.header or "") for p in doc.passages)  # header cells
        wanted = printed_units(md)
        missing = [(k, u) for k, u in wanted if norm(u) not in flat]
        kinds: dict[str, int] = {}
        for k, _ in missing:
            kinds[k] = kinds.get(k, 0) + 1
        row: dict = {"units": len(wanted), "missing": len(missing), "by_kind": kinds}
        if show:
            row["missing_units"] = [f"{k}: {u[:100]}" for k, u in missing]
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", default="md,tei,jats,pdf")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--units", action="store_true", help="printed units in the PDFs")
    args = parser.parse_args()
    if args.units:
        split = {q["paper"]: q["split"] for q in load(QUESTIONS)}
        with tempfile.TemporaryDirectory() as tmp:
            names = sorted(md.stem for md in PAPERS.glob("paper_*.md"))
            report = units(names, Path(tmp), show=False)
            shown = units([n for n in names if split.get(n) != "test"], Path(tmp), True)
        report.update(shown)
        print(json.dumps(report, indent=1))
        return
    questions = [q for q in load(QUESTIONS) if q["split"] == args.split]
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            report[fmt] = check(fmt, questions, Path(tmp))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
