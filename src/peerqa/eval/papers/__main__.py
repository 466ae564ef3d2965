"""Measure how well user papers are read: `python -m peerqa.eval.papers [--formats md,tei,pdf]`.

Ingests the fixture papers (tests/fixtures/papers in a checkout, or `--papers DIR`: an
installed wheel ships the questions and this runner, not the papers) beside the bundled
paper into a temporary data dir, once per format, and scores eval/papers/questions.jsonl by split:
Recall@5 and MRR@10 (a hit: a passage of the paper asked about containing the gold span,
compared after undoing whitespace, ligatures and case), reference entries among the top
10, the share of passages that are reference entries or furniture/declarations, answer
citations from the paper a question names, reference/furniture/declaration passages
cited, metadata completeness, and the bundled paper's own Recall@5/MRR@10
(eval/questions.jsonl) with and without the papers beside it, and with the document
filter set to it (which must equal it alone).

Answers are scored as eval/metrics.py scores the bundled paper's: an answer holds the
gold when one of its cited pieces (a sentence, located at its span in the source)
overlaps at least half of the gold span; beside it the baseline "the top search passage
is the answer". The gold, copied from the Markdown, is located in each format's text
after undoing whitespace, ligatures, quotes and case (`locate`).

`--code DIR` imports ingest/retrieval/answer from another checkout first (e.g. an
unpacked `git archive 3c6c3b2`), to measure the code before this work the same way; a
format that code cannot read is reported as such. Questions about a paper not in the
papers dir are left out (`--papers` with a few of them measures those alone).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from peerqa.eval.questions import QUESTIONS_PATH as BUNDLED_QUESTIONS

ROOT = Path(__file__).resolve().parents[4]  # the checkout, when there is one
PAPERS = ROOT / "tests" / "fixtures" / "papers"
# The PDFs are printed from the Markdown papers by the test fixtures' writer (fpdf2, a dev
# dependency): a checkout's.
PDF_WRITER = ROOT / "tests" / "fixtures" / "make_pdfs.py"
QUESTIONS = Path(__file__).with_name("questions.jsonl")
BUNDLED = "joo-2022-peer-support"
SUFFIX = {"md": ".md", "tei": ".tei.xml", "pdf": ".pdf", "jats": ".jats.xml"}
# What is not evidence, judged independently of the readers' own patterns.
NOT_EVIDENCE = re.compile(
    r"page number not for citation purposes|\| ?vol\. ?\d+ ?\||Page \d+ of \d+|XSL • FO|"
    r"RenderX|^None declared\.?$|^Not applicable\.?$|Downloaded from|Protected by copyright|"
    r"\[DOCX File|Originally published in|\*\*Authors:\*\*|\*\*DOI:\*\*|Creative Commons|"
    r"declare no (?:competing|conflict)|^©",
    re.MULTILINE | re.IGNORECASE,
)


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


def _normalised(text: str) -> tuple[str, list[int]]:
    """`norm(text)` and, for each of its characters, the offset in `text` it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            continue
        for c in norm(ch) or "":
            out.append(c)
            where.append(i)
    return "".join(out), where


def locate(text: str, gold: list[str]) -> list[tuple[int, int, int]]:
    """(snippet, start, end) of every occurrence of each gold snippet in `text`."""
    flat, where = _normalised(text)
    found = []
    for i, g in enumerate(gold):
        target = norm(g)
        at = flat.find(target) if target else -1
        while at >= 0:
            end = at + len(target) - 1
            found.append((i, where[at], where[end] + 1))
            at = flat.find(target, at + 1)
    return found


def hit(passage_text: str, gold: list[str]) -> bool:
    p = norm(passage_text)
    for g in map(norm, gold):
        # The gold inside the passage, or the passage a large part of a gold that a
        # chunk boundary split.
        if g in p or (len(p) >= 0.5 * len(g) and p in g):
            return True
    return False


def load(path: Path) -> list[dict]:
    """The questions that have gold evidence (out-of-scope ones have none)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [q for q in rows if q.get("gold")]


def dev_folds(k: int) -> list[tuple[dict, int]]:
    """The dev questions (never a held-out paper's), each with its cross-validation fold.
    A paper's questions share a fold, so each fold is judged on papers its model never
    saw, as the product is judged on papers nobody here has."""
    dev = sorted((q for q in load(QUESTIONS) if q["split"] == "dev"), key=lambda q: q["id"])
    papers = sorted({q["paper"] for q in dev})
    return [(q, papers.index(q["paper"]) % k) for q in dev]


def store_cli(doc: str):
    """The index and --out of a script measuring a store that already holds the bundled
    paper and the fixture papers (`--data DIR`, e.g. after `PEERQA_DATA_DIR=DIR peerqa
    ingest tests/fixtures/papers/paper_*.md`), and a function writing its report."""
    from peerqa.config import Settings
    from peerqa.retrieval.hybrid import LiveIndex

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    def report(found: dict) -> None:
        if args.out:
            args.out.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(found, indent=2))

    return LiveIndex(Settings(data_dir=args.data)), report


def files_for(fmt: str, tmp: Path, papers: Path = PAPERS) -> list[Path]:
    if fmt == "pdf":
        sys.path.insert(0, str(PDF_WRITER.parent))
        from make_pdfs import write_pdf

        out = tmp / "pdf"
        out.mkdir(exist_ok=True)
        return [write_pdf(md, out) for md in sorted(papers.glob("paper_*.md"))]
    return sorted(papers.glob(f"paper_*{SUFFIX[fmt]}"))


def paper_of(source: str) -> str:
    return source.split(".", 1)[0]


def retrieval(
    index,
    questions: list[dict],
    docs: dict[str, str],
    details: list | None = None,
    search=None,
) -> dict[str, dict]:
    """Per split: Recall@5, MRR@10, reference entries in the top 10. `details` collects
    each dev question's rank and top 5 for error analysis (never a test question's).
    `search(question dict) -> results` replaces the plain search (/v1/search's)."""
    by_split: dict[str, dict] = {}
    for q in questions:
        doc = docs.get(q.get("paper", ""), BUNDLED)
        results = search(q) if search else index.search(q["question"], top_k=10)
        rank = next(
            (i for i, r in enumerate(results, 1) if r.document == doc and hit(r.text, q["gold"])),
            None,
        )
        if details is not None and q["split"] != "test":
            details.append(
                {
                    "id": q["id"],
                    "question": q["question"],
                    "rank": rank,
                    "top5": [
                        f"{r.document} {r.kind} [{r.section}] {r.text[:160]}" for r in results[:5]
                    ],
                }
            )
        s = by_split.setdefault(q["split"], {"n": 0, "r5": 0, "mrr": 0.0, "refs": 0, "slots": 0})
        s["n"] += 1
        s["r5"] += bool(rank and rank <= 5)
        s["mrr"] += 1 / rank if rank else 0.0
        s["refs"] += sum(r.kind == "reference" for r in results)
        s["slots"] += len(results)
    return {
        split: {
            "questions": s["n"],
            "recall@5": round(s["r5"] / s["n"], 3),
            "mrr@10": round(s["mrr"] / s["n"], 3),
            "reference_share_of_top10": round(s["refs"] / max(s["slots"], 1), 3),
        }
        for split, s in sorted(by_split.items())
    }


def answers(index, questions: list[dict], docs: dict[str, str]) -> dict[str, dict]:
    from peerqa.answer.compose import compose

    by_split: dict[str, dict] = {}
    for q in questions:
        answer = compose(index, q["question"])
        s = by_split.setdefault(
            q["split"], {"named": 0, "from_named": 0, "cited": 0, "bad": 0, "abstained": 0}
        )
        s["abstained"] += answer.abstained
        for c in answer.citations:
            s["cited"] += 1
            s["bad"] += c.kind == "reference" or bool(NOT_EVIDENCE.search(c.text))
            if q["names_paper"]:
                s["named"] += 1
                s["from_named"] += c.document == docs[q["paper"]]
    return {
        split: {
            "citations_from_named_paper": round(s["from_named"] / s["named"], 3)
            if s["named"]
            else None,
            "reference_or_furniture_citations": s["bad"],
            "citations": s["cited"],
            "abstained": s["abstained"],
        }
        for split, s in sorted(by_split.items())
    }


def answer_text(index, questions: list[dict], docs: dict[str, str], sources) -> dict:
    """Per split: answers whose cited text holds the gold, beside the top search passage."""
    from peerqa.answer.compose import compose, retrieve
    from peerqa.answer.question import understand
    from peerqa.eval.metrics import check_answer, check_top_passage, quote_spans
    from peerqa.eval.questions import GoldSpan, Question

    quotes = {d: quote_spans(t) for d, t in sources.items()}
    by_split: dict[str, dict] = {}
    for q in questions:
        doc = docs[q["paper"]]
        gold = [
            GoldSpan(snippet=i, document=doc, char_start=s, char_end=e)
            for i, s, e in locate(sources[doc], q["gold"])
        ]
        category = "literature" if q.get("literature") else "papers"
        # Not a bundled-paper question (its category and split are the papers' own).
        asked = Question.model_construct(
            id=q["id"], category=category, in_scope=True, expect=None, expect_reason=None
        )
        answer = compose(index, q["question"])
        ours = check_answer(q["id"], category, True, answer, gold, sources, quotes=quotes)
        # The baseline: the first passage of the ranking the answer is made from.
        results = retrieve(index, understand(index, q["question"], []))
        top = check_top_passage(asked, results[0] if results else None, gold, sources, quotes)
        s = by_split.setdefault(
            q["split"], {"n": 0, "located": 0, "ours": 0, "first": 0, "top": 0, "top_first": 0}
        )
        s["n"] += 1
        s["located"] += bool(gold)
        s["ours"] += ours.text_holds_gold
        s["first"] += ours.first_holds_gold
        s["top"] += top.text_holds_gold
        s["top_first"] += top.first_holds_gold
    return {
        split: {
            "questions": s["n"],
            "gold_located": s["located"],
            "answer_text_holds_gold": round(s["ours"] / s["n"], 3),
            "answer_first_holds_gold": round(s["first"] / s["n"], 3),
            "top_passage_holds_gold": round(s["top"] / s["n"], 3),
            "top_passage_first_holds_gold": round(s["top_first"] / s["n"], 3),
        }
        for split, s in sorted(by_split.items())
    }


def opener(index, document: str) -> str:
    """A session's first turn naming a paper, as a user names one: by its citation label
    ("What does Joo et al. 2022, Family Practice report?")."""
    from peerqa.models import study_label

    info = next(d for d in index.state.documents if d.id == document)
    return f"What does {study_label(info.study, info.title)} report?"


def filtered_search(index, document: str):
    """`search(question dict)` with the request's document filter set to `document`."""
    from peerqa.models import Filters

    return lambda q: index.search(q["question"], top_k=10, filters=Filters(document=[document]))


def scoped_searches(index, docs: dict[str, str]) -> dict:
    """How a question that names no paper is searched when several are loaded, beside
    the plain search: by the answer's own retrieval (the question alone: its scope is
    what it names), in a session whose first turn named the paper asked about (the
    product keeps it as the session's focus), and with the request's document filter.
    Each returns `search(question dict)` for `retrieval`."""
    from peerqa.answer.compose import compose, retrieve_in_scope
    from peerqa.answer.question import understand
    from peerqa.answer.scope import about

    focus: dict[str, tuple[tuple[str, ...], str]] = {}

    def session_of(document: str) -> tuple[tuple[str, ...], str]:
        # The opener is answered as the product answers it: its scope (what it names)
        # becomes the focus; a paper it fails to name leaves none, and that counts.
        if document not in focus:
            first = opener(index, document)
            focus[document] = (about(compose(index, first)), first)
        return focus[document]

    def paper(q: dict) -> str:
        return docs.get(q.get("paper", ""), BUNDLED)

    def answer_search(q: dict, history=(), on=None):
        asked = understand(index, q["question"], history, on)
        return retrieve_in_scope(index, asked, 10)[1]

    def in_session(q: dict, document: str | None = None):
        on, first = session_of(document or paper(q))
        return answer_search(q, [first], on)

    return {
        "answer_retrieval": answer_search,
        "in_session": in_session,
        "document_filter": lambda q: filtered_search(index, paper(q))(q),
        # The cost of a focus: another paper's question asked in a session on the bundled
        # paper (it must move on to the paper it is about).
        "in_bundled_session": lambda q: in_session(q, BUNDLED),
    }


def measure(
    fmt: str,
    tmp: Path,
    with_answers: bool,
    with_bundled: bool = True,
    keep=lambda out: None,
    details: list | None = None,
    sessions: bool = False,
    papers: Path = PAPERS,
) -> dict:
    import shutil

    from peerqa.config import Settings
    from peerqa.index.pipeline import ingest
    from peerqa.retrieval.hybrid import LiveIndex

    settings = Settings(data_dir=tmp / f"data-{fmt}")
    if (tmp / "data-bundled").is_dir():
        # Start from the bundled paper's store: its vectors are reused, only the papers'
        # passages are embedded (ingest_seconds is then the papers' ingest alone).
        shutil.copytree(tmp / "data-bundled", settings.data_dir)
    files = files_for(fmt, tmp, papers)
    started = time.perf_counter()
    try:
        ingest(files, settings)
    except Exception as exc:  # the code measured may not read this format at all
        return {"format": fmt, "error": f"{type(exc).__name__}: {exc}"[:300]}
    ingest_s = round(time.perf_counter() - started, 1)
    index = LiveIndex(settings)
    state = index.state
    docs = {paper_of(d.source): d.id for d in state.documents if d.source.startswith("paper_")}
    papers = [p for p in index.passages.values() if p.document in docs.values()]
    infos = [d for d in state.documents if d.id in docs.values()]
    questions = [q for q in load(QUESTIONS) if q["paper"] in docs]
    out = {
        "format": fmt,
        "ingest_seconds": ingest_s,
        "passages": len(papers),
        "reference_share": round(sum(p.kind == "reference" for p in papers) / len(papers), 3),
        "furniture_or_declaration_share": round(
            sum(bool(NOT_EVIDENCE.search(p.text)) for p in papers) / len(papers), 3
        ),
        "max_passage_words": max(len(p.text.split()) for p in papers),
        "metadata_complete": f"{sum(bool(d.authors and d.year and d.journal) for d in infos)}"
        f"/{len(infos)}",
        "retrieval": retrieval(index, questions, docs, details),
    }
    keep(out)
    if with_bundled:
        out["bundled"] = retrieval(index, load(BUNDLED_QUESTIONS), {})
        # A filter to the bundled paper must rank as the paper alone (bundled_alone).
        out["bundled_document_filter"] = retrieval(
            index, load(BUNDLED_QUESTIONS), {}, search=filtered_search(index, BUNDLED)
        )
        keep(out)
    if sessions:
        ways = scoped_searches(index, docs)
        bundled = load(BUNDLED_QUESTIONS)
        out["scoped"] = {
            "bundled": {
                way: retrieval(index, bundled, {}, search=ways[way])
                for way in ("answer_retrieval", "in_session", "document_filter")
            },
            "papers": {
                way: retrieval(index, questions, docs, search=search)
                for way, search in ways.items()
            },
        }
        keep(out)
    if with_answers:
        out["answers"] = answers(index, questions, docs)
        keep(out)
        from peerqa.index.pipeline import parse_sources

        sources = {d.info.id: d.text for d in parse_sources(files, settings)}
        out["answer_text"] = answer_text(index, questions, docs, sources)
    return out


def bundled_alone(tmp: Path, score: bool = True) -> dict | None:
    """The bundled paper alone: ingested (its store seeds each format's), and scored."""
    from peerqa.config import Settings
    from peerqa.index.pipeline import ingest
    from peerqa.retrieval.hybrid import LiveIndex

    settings = Settings(data_dir=tmp / "data-bundled")
    ingest([], settings)
    return retrieval(LiveIndex(settings), load(BUNDLED_QUESTIONS), {}) if score else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", default="md,tei,pdf")
    parser.add_argument("--code", type=Path, help="checkout whose ingest/retrieval/answer to use")
    parser.add_argument("--no-answers", action="store_true")
    parser.add_argument(
        "--skip-bundled-alone", action="store_true", help="skip the bundled-only baseline"
    )
    parser.add_argument(
        "--no-bundled", action="store_true", help="skip the bundled paper's questions"
    )
    parser.add_argument(
        "--sessions",
        action="store_true",
        help="also search in sessions, with document filters and by the answer's retrieval",
    )
    parser.add_argument(
        "--papers", type=Path, default=PAPERS, help="the papers (paper_NNNN.md, .tei.xml, …)"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--details", type=Path, help="dev questions' ranks and top 5 (FILE-fmt)")
    args = parser.parse_args()
    if not args.papers.is_dir():
        parser.error(f"no papers at {args.papers}: pass --papers DIR (as tests/fixtures/papers)")
    if "pdf" in args.formats.split(",") and not PDF_WRITER.is_file():
        parser.error("--formats pdf prints the PDFs with a checkout's tests/fixtures/make_pdfs.py")
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    report: dict = {"code": str(args.code or ROOT), "formats": []}

    def save() -> None:  # after each step: a long run killed midway keeps what it measured
        if args.out:
            args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        report["bundled_alone"] = bundled_alone(Path(tmp), score=not args.skip_bundled_alone)
        save()
        for fmt in args.formats.split(","):
            report["formats"].append({"format": fmt})

            def keep(out: dict) -> None:
                report["formats"][-1] = out
                save()

            found: list = []
            keep(
                measure(
                    fmt,
                    Path(tmp),
                    not args.no_answers,
                    not args.no_bundled,
                    keep,
                    found,
                    args.sessions,
                    args.papers,
                )
            )
            if args.details:  # dev questions only
                path = args.details.with_name(f"{args.details.stem}-{fmt}.json")
                path.write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
