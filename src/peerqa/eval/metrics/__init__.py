"""Retrieval and answer metrics, scored by character span against the gold evidence:
retrieval.py (what a reader reads; Recall@5, MRR@10, nDCG@10), pieces.py (an answer's
pieces located in their sources), answers.py (an answer checked; the answer figures).

Relevance. A passage (or the part of it that was read) is relevant to a gold occurrence
when both lie in the same document and their [char_start, char_end) spans overlap by at
least half of the gold span (containing the gold span is the full case). A question's
gold snippets are distinct evidence; a snippet found at any of its occurrences is found.

Reading budget. A reader goes down the ranking reading at most BUDGET_WORDS words
(whitespace-separated tokens, as `str.split()` counts them). Every passage that fits is
read whole; the passage that crosses the budget is read up to its last word within the
budget (its span is cut there, so only gold inside the words read can count) and the
ones after it are not read at all. The first passage is therefore always read, up to
BUDGET_WORDS words. Recall@5 and MRR@10 only see what was read, so big chunks cannot buy
recall; nDCG@10 is the unbudgeted ranx figure.

Holds gold. A piece of an answer (a cited sentence or quote, located at its exact span in
the source) holds gold when that span overlaps a gold span by at least half of the gold
span (`covers`). Pieces are located sentence by sentence, so citing a whole long passage
earns nothing unless the sentence quoted from it is the one that answers.
"""

from peerqa.eval.metrics.answers import (
    AnswerCheck,
    AnswerScores,
    CitedSentence,
    check_answer,
    check_top_passage,
    cited_sentences,
    summarise_answers,
)
from peerqa.eval.metrics.pieces import (
    Piece,
    QuoteSpans,
    bibliography_entry,
    cuts_quote,
    lead_unit,
    leads_with_gold,
    locate_piece,
    piece_holds,
    quote_spans,
    raw_table_row,
    sentence_spans,
    verbatim_piece,
)
from peerqa.eval.metrics.retrieval import (
    BUDGET_WORDS,
    MRR_K,
    NDCG_K,
    RECALL_K,
    QuestionRetrieval,
    ReadSpan,
    RetrievalScores,
    Span,
    covers,
    first_relevant_rank,
    found_in_first,
    ndcg_at_k,
    read_within_budget,
    recall_at_k,
    reciprocal_rank,
    relevant_ids,
    score_question,
    snippets_found,
    summarise_retrieval,
)

__all__ = [
    "BUDGET_WORDS", "MRR_K", "NDCG_K", "RECALL_K",
    "AnswerCheck", "AnswerScores", "CitedSentence", "Piece", "QuestionRetrieval", "QuoteSpans",
    "ReadSpan", "RetrievalScores", "Span",
    "bibliography_entry", "check_answer", "check_top_passage", "cited_sentences", "covers",
    "cuts_quote", "first_relevant_rank", "found_in_first", "lead_unit", "leads_with_gold",
    "locate_piece", "ndcg_at_k", "piece_holds", "quote_spans", "raw_table_row",
    "read_within_budget", "recall_at_k", "reciprocal_rank", "relevant_ids", "score_question",
    "sentence_spans", "snippets_found", "summarise_answers", "summarise_retrieval",
    "verbatim_piece",
]  # fmt: skip
