"""A generation's answer values (the papers' names and profiles, the evidence's names,
the outcomes it reports, ...) made where no request waits, and kept as a file.

Made in the serving process, they cost ~1-3 CPU-seconds on the thread that loads a new
generation after an upload, holding the GIL while asks wait (issue 14's upload stalls).
So the writer makes them: `peerqa ingest` and the admin worker, just before they publish
(peerqa.index.pipeline.DERIVED_HOOKS), into the data dir beside the token vectors
(peerqa.files.derived_dir). The serving process only reads them (sentences.warm). A
generation published without them (an older ingest, a writer that did not import this
module) has them made at load as before, and kept in the cache dir for the next start.

The file is named by a digest of what the values are made from: the generation's
content (its documents' fingerprints and metadata), the code and data of this package
that make them, and the model's vocabulary file; a change to any of them names another
file, so a stale one is never read. Values cheap to make (idf, the citing passages) are
not kept: they are made at load as before.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from peerqa.config import Settings
from peerqa.files import derived_dir, prune, used, write_aside
from peerqa.index.pipeline import DERIVED_HOOKS
from peerqa.models import Passage
from peerqa.retrieval.late import passage_order
from peerqa.store import IndexState

log = logging.getLogger("peerqa.answer")

PACKAGE = Path(__file__).resolve().parent
# Files whose content makes the values: any change names a new file.
SOURCES = ("*.py", "*.json", "data/*.json", "profiles/*.json", "../segment.py", "../models.py")
FORMAT = "answer-values-1"
KEPT = 8  # files kept per folder, the least recently used go


class _View:
    """What the value makers read of a generation, before it is loaded: its passages in
    a loaded Snapshot's order, its state and the settings."""

    def __init__(self, settings: Settings, state: IndexState, passages: Sequence[Passage]):
        self.settings, self.state = settings, state
        self.passages = {p.id: p for p in sorted(passages, key=passage_order)}


# The kept values, by the key answer code asks `SentenceBank.derived` for them under.
KEYS = (
    "paper names",
    "paper profiles",
    "evidence",
    "outcomes reported",
    "outcomes cited",
    "counts",
    "mentions",
)


def make_values(view: Any) -> dict[str, object]:
    """Each of KEYS made as the answer code makes it for a loaded generation."""
    from peerqa.answer import caveats, decline, scope  # (they import this package)

    names = scope._paper_names(view)
    return {
        "paper names": names,
        "paper profiles": scope._paper_profiles(view, names),
        "evidence": decline.Evidence(view),
        "outcomes reported": caveats._outcomes_reported(view),
        "outcomes cited": caveats._outcomes_cited(view),
        "counts": caveats._counts(view),
        "mentions": caveats.Mentions(view),
    }


@cache
def _code_digest() -> str:
    digest = hashlib.sha256(FORMAT.encode())
    for pattern in SOURCES:
        for path in sorted(PACKAGE.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _model_digest(settings: Settings) -> str:
    """The model (scope.english_words reads its vocabulary): a pinned package, by its path."""
    try:
        return str(settings.resolved_model_path())
    except (OSError, ValueError):
        return "-"


def values_name(settings: Settings, state: IndexState) -> str:
    digest = hashlib.sha256(_code_digest().encode())
    digest.update(_model_digest(settings).encode())
    digest.update(
        IndexState(
            collection="",
            generation=0,
            documents=state.documents,
            programmes=state.programmes,
            fingerprints=dict(sorted(state.fingerprints.items())),
        )
        .model_dump_json()
        .encode()
    )
    return f"answer-{digest.hexdigest()[:32]}.pickle"


def _folders(settings: Settings) -> list[Path]:
    return [derived_dir(settings.data_dir, settings.collection_prefix), settings.cache_dir]


def load_values(settings: Settings, state: IndexState) -> dict[str, object] | None:
    """The generation's kept values (data dir, then cache dir); None when neither holds
    them, or the file cannot be read."""
    name = values_name(settings, state)
    for folder in _folders(settings):
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        try:
            values = _Reader(io.BytesIO(data)).load()
        except Exception:  # a damaged or foreign file: made again, as if missing
            log.warning("answer values in %s unreadable: made again", path, exc_info=True)
            continue
        if isinstance(values, dict) and set(values) == set(KEYS):
            used(path)
            return values
    return None


def save_values(settings: Settings, state: IndexState, values: dict[str, object], folder: Path):
    path = folder / values_name(settings, state)

    def write(aside: Path) -> None:
        aside.write_bytes(pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        write_aside(path, write)
        prune(folder, "answer-*.pickle", KEPT)
    except OSError as err:
        log.warning("answer values not kept in %s: %s", folder, err)


def derive(settings: Settings, state: IndexState, passages: Sequence[Passage]) -> None:
    """At ingest, before the publish (DERIVED_HOOKS): the new generation's values in the
    data dir. One that fails to make never stops the publish: the load makes them then."""
    try:
        values = make_values(_View(settings, state, passages))
    except Exception:
        log.warning("answer values not made at ingest: made at load", exc_info=True)
        return
    save_values(settings, state, values, derived_dir(settings.data_dir, settings.collection_prefix))


def values_for(view: Any) -> dict[str, object]:
    """A loaded generation's values: read when kept, else made (and kept in the cache dir
    for the next start)."""
    settings, state = view.settings, view.state
    values = load_values(settings, state)
    if values is None:
        values = make_values(view)
        save_values(settings, state, values, settings.cache_dir)
    return values


# Only the classes the values are made of are read back: the file is data, not code.
ALLOWED = {
    ("builtins", "frozenset"),
    ("builtins", "set"),
    ("peerqa.answer.scope", "PaperNames"),
    ("peerqa.answer.decline", "Evidence"),
    ("peerqa.answer.caveats", "Mentions"),
}


class _Reader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not an answer value")
        return super().find_class(module, name)


DERIVED_HOOKS.append(derive)
