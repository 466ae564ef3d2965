"""The fitting questions as examples: each understood, retrieved (by a ranker not fitted
on it) and cut into units by answer.compose's own calls, with its gold; the user papers'
dev questions asked of a store holding those papers beside the bundled one."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peerqa.answer.compose import DEFAULT_TOP_K, candidates, decline, retrieve
from peerqa.answer.evidence import Unit
from peerqa.answer.question import Question, understand
from peerqa.config import Settings
from peerqa.eval.fit_ranker import out_of_fold
from peerqa.eval.metrics import covers
from peerqa.eval.questions import GoldSpan, fitting_questions, gold_spans, load_split
from peerqa.eval.questions import Question as EvalQuestion
from peerqa.index.pipeline import parse_sources
from peerqa.models import ScoredPassage
from peerqa.retrieval.hybrid import LiveIndex

ROOT = Path(__file__).resolve().parents[4]
PAPERS_DIR = ROOT / "tests" / "fixtures" / "papers"
# The user papers fitted on: eval.papers' dev split. Its test papers (1409, 1872) are
# never ingested for fitting nor their questions read.
DEV_PAPERS = (
    "paper_0258",
    "paper_0445",
    "paper_0635",
    "paper_0849",
    "paper_1023",
    "paper_1122",
    "paper_1403",
    "paper_1408",
    "paper_1410",
    "paper_1412",
    "paper_1571",
    "paper_1712",
    "paper_1759",
    "paper_1850",
)
BUNDLED, PAPERS = "bundled", "papers"


@dataclass
class Example:
    id: str
    item: object  # the eval question
    question: Question
    results: list[ScoredPassage]
    units: list[Unit]
    gold: list[GoldSpan]
    top: tuple[str, int, int] | None  # the top passage's span
    index: LiveIndex | None = None  # the store it was asked of
    set: str = BUNDLED  # which question set it comes from (figures are reported per set)
    scored: np.ndarray | None = None  # the scores its units hold now (`_set_scores`)


def holds(span: tuple[str, int, int], gold: Sequence[GoldSpan]) -> bool:
    """As `peerqa eval` scores a piece of an answer."""
    document, start, end = span
    return any(covers(document, start, end, g) for g in gold)


def collect(
    index: LiveIndex,
    settings: Settings,
    split_test: bool = False,
    papers: bool = False,
    bundled: bool = True,
) -> list[Example]:
    """Each in-scope question with gold, understood, retrieved and cut into units by the
    product's own calls (answer.compose: understand, retrieve, decline, candidates): the
    bundled paper's, and with `papers` the user papers' dev questions
    (eval/papers/questions.jsonl) when the index holds those papers."""
    sources = source_texts(settings)
    # Fitting reads fitting_questions(), which refuses test questions; the test split is
    # read only by --final-check, after the artefact is written.
    asked = [
        (item, gold_spans(item, sources))
        for item in (load_split("test") if split_test else fitting_questions())
        if bundled and item.in_scope and item.gold
    ]
    if papers and not split_test:
        asked += papers_questions(index, sources)
    # Each question retrieved by a ranker not fitted on it (the served one is, in-sample);
    # the test split, never fitted on, by the served one.
    left_out = {} if split_test else out_of_fold(index.embed_model.token_space)
    examples = []
    for item, gold in asked:
        q = understand(index, item.question, item.history)
        with index.ranked_by(*left_out[item.id]) if item.id in left_out else nullcontext():
            results = retrieve(index, q, DEFAULT_TOP_K)
        if not results or decline(index, q, results):
            continue  # declining is judged elsewhere; nothing to select from
        top = results[0]
        examples.append(
            Example(
                item.id,
                item,
                q,
                results,
                candidates(index, q, results, None),
                gold,
                (top.document, top.char_start, top.char_end),
                index,
                PAPERS if item.category == PAPERS else BUNDLED,
            )
        )
    return examples


def source_texts(settings: Settings) -> dict[str, str]:
    """Document id -> the text its offsets point into: the bundled corpus, and the user
    papers of PAPERS_DIR the store holds (read from the same files it was built from)."""
    sources = {d.info.id: d.text for d in parse_sources([], settings)}
    files = [p for p in sorted(PAPERS_DIR.glob("paper_*.md")) if p.stem in DEV_PAPERS]
    for d in parse_sources(files, settings):
        sources.setdefault(d.info.id, d.text)
    return sources


def papers_questions(
    index: LiveIndex, sources: dict[str, str]
) -> list[tuple[EvalQuestion, list[GoldSpan]]]:
    """The user papers' dev questions as eval questions (category PAPERS, never a test
    paper's), each with its gold located in its paper as eval.papers locates it."""
    from peerqa.eval.papers.__main__ import QUESTIONS, load, locate, paper_of

    documents = {
        paper_of(d.source): d.id
        for d in (index.state.documents if index.state else [])
        if d.source.startswith("paper_")
    }
    out = []
    for row in load(QUESTIONS):
        if row["split"] == "test" or row["paper"] not in DEV_PAPERS:
            continue
        document = documents.get(row["paper"])
        if document is None:
            continue  # the store does not hold this paper
        item = EvalQuestion.model_construct(
            id=row["id"],
            question=row["question"],
            category=PAPERS,
            in_scope=True,
            split="calibrate",
            gold=row["gold"],
            history=[],
            expect=None,
            expect_reason=None,
            literature=bool(row.get("literature")),
        )
        gold = [
            GoldSpan(snippet=i, document=document, char_start=start, char_end=end)
            for i, start, end in locate(sources[document], row["gold"])
        ]
        if gold:
            out.append((item, gold))
    return out


def papers_store(settings: Settings, where: Path) -> Settings:
    """A store holding the bundled paper and the dev papers' Markdown beside it, as
    eval.papers builds one: `settings`' store copied (its vectors reused) and the papers
    ingested into the copy."""
    from peerqa.index.pipeline import ingest

    data = where / "data-papers"
    # Always an embedded store of its own: the papers never reach a served Chroma.
    papers = settings.model_copy(update={"data_dir": data, "chroma_url": None})
    if (data / "done").exists():
        return papers  # built by an earlier run with --papers-store
    if settings.data_dir.is_dir():
        shutil.copytree(settings.data_dir, data)
    ingest([PAPERS_DIR / f"{p}.md" for p in DEV_PAPERS], papers)
    (data / "done").touch()
    return papers
