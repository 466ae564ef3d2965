"""The live generation of a store, for one process (`LiveIndex`): the Snapshot
(snapshot.py) searches read, and the next one loaded aside and swapped in when an ingest
publishes a new generation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chromadb.errors import ChromaError
from threadpoolctl import threadpool_limits

from peerqa.config import Settings, get_settings
from peerqa.embedding import MiniLMEmbedding, QueryEncoding, load_embedding
from peerqa.models import Passage, ScoredPassage, Study
from peerqa.retrieval.adapter import Adapter
from peerqa.retrieval.ranker import Ranker
from peerqa.retrieval.search import encode
from peerqa.retrieval.snapshot import Snapshot
from peerqa.store import IndexState, Store

# Tries at loading the live generation while other processes keep publishing and dropping.
LOAD_ATTEMPTS = 3


# Called with each generation's snapshot, and the live one it replaces (None at the first
# load), once the new one is loaded and before it is swapped in, on
# the thread that loads it (an admin route's, or a background one: never a search's). The
# layers above make their per-generation values there (answer.sentences), so the first
# request after a publish finds them made instead of making them itself (~0.5 s at a few
# user papers).
LOADED_HOOKS: list[Callable[[Snapshot, Snapshot | None], None]] = []


class IndexNotReady(RuntimeError):
    """Nothing has been ingested into this store yet."""


class LiveIndex:
    """The live generation of a store, for one process: the Snapshot searches read, and
    the next one swapped in (one assignment) when an ingest publishes a new generation.
    Model and store stay; everything of a generation lives in its snapshot."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        embed_model: MiniLMEmbedding | None = None,
    ):
        self.settings = settings or get_settings()
        self.store = store or Store(self.settings)
        self.embed_model = embed_model or load_embedding()
        # numpy's BLAS on one thread: searches multiply small matrices (late interaction),
        # where a second OpenBLAS thread only spins against concurrent requests for the
        # cores; measured 0.55 ms a search on one thread, 1.24 ms on two.
        threadpool_limits(1, user_api="blas")
        self._lock = threading.Lock()
        # The loaded generation: read once by a search, which runs on it to the end.
        self._view: Snapshot | None = None
        self.refresh()

    # -- loading -----------------------------------------------------------
    def refresh(self, wait: bool = True) -> bool:
        """Load the live generation if the pointer moved; True when it did.

        Safe from request threads while other processes publish: the generation is built
        aside and swapped in whole, so a search never mixes two; the pointer is read again
        under the lock, so a thread that read it earlier never loads an older generation;
        and one dropped while it loads (two publishes since) sends it back to the pointer.
        With `wait` False, a thread that finds another loading returns at once and serves
        the loaded generation meanwhile (a request during an upload: the load takes
        seconds); with nothing loaded yet it waits.
        """
        state = self.store.state()
        if state is None or (self.state and state.collection == self.state.collection):
            return False
        if not self._lock.acquire(blocking=wait or self.state is None):
            return False
        try:
            for attempt in range(LOAD_ATTEMPTS):
                state = self.store.state()
                if state is None or (self.state and state.collection == self.state.collection):
                    return False  # another thread loaded it meanwhile
                live = self._view
                try:
                    view = Snapshot(self.settings, self.store, self.embed_model, state, live)
                except ChromaError:
                    if attempt + 1 == LOAD_ATTEMPTS:
                        raise
                    continue
                # The hooks may answer over the new snapshot before it is live.
                for hook in LOADED_HOOKS:
                    hook(view, live)
                self._view = view
                return True
            return False
        finally:
            self._lock.release()

    @property
    def snapshot(self) -> Snapshot | None:
        """The live generation (None before the first ingest)."""
        return self._view

    @property
    def state(self) -> IndexState | None:
        view = self._view
        return view.state if view is not None else None

    @property
    def passages(self) -> dict[str, Passage]:
        return self._loaded().passages

    @property
    def order(self) -> list[str]:
        return self._loaded().order

    @property
    def generation_values(self) -> dict[str, Any] | None:
        """The live generation's values of the layers above (Snapshot); None unloaded."""
        view = self._view
        return view.generation_values if view is not None else None

    @property
    def ready(self) -> bool:
        return self._view is not None

    def require(self) -> None:
        self._loaded()

    def _loaded(self) -> Snapshot:
        """The live snapshot, read once (a swap may follow); IndexNotReady before any."""
        view = self._view
        if view is None:
            raise IndexNotReady("the index is empty: run `peerqa ingest` first")
        return view

    # -- lookups -----------------------------------------------------------
    def vocabulary(self) -> dict[str, list[str]]:
        """Values present for each filterable key (validates filters, fills UI menus)."""
        return self._loaded().vocabulary()

    def select(self, values: dict[str, list[str]], limit: int) -> list[Passage]:
        """Snapshot.select of the live generation."""
        return self._loaded().select(values, limit)

    def neighbours(self, passage_id: str) -> tuple[str | None, str | None]:
        return self._loaded().neighbours(passage_id)

    def study(self, document: str) -> Study | None:
        """The citation metadata of a document in the index (API.md "Citation metadata")."""
        view = self._view
        return view.study(document) if view is not None else None

    @contextmanager
    def ranked_by(self, ranker: Ranker | None, adapter: Adapter | None) -> Iterator[None]:
        """Search with another fitted ranker and query adapter for a while (fitting
        scripts: ones not fitted on the question asked). Not for serving: it changes the
        live snapshot."""
        view = self._loaded()
        saved = view.ranker, view.adapter
        view.ranker, view.adapter = ranker, adapter
        try:
            yield
        finally:
            view.ranker, view.adapter = saved

    # -- search ------------------------------------------------------------
    def encode(self, query: str) -> QueryEncoding:
        """What `search` embeds for `query` (its expansion), for callers that reuse the
        vector: `search(query, encoding=index.encode(query))` returns what
        `search(query)` does."""
        return encode(self.embed_model, query)

    def search(self, query: str, *args: Any, **kwargs: Any) -> list[ScoredPassage]:
        """Snapshot.search over the live generation: (query, top_k=5, filters=None,
        encoding=None) -> the top_k passages for `query`."""
        view = self._loaded()
        try:
            return view.search(query, *args, **kwargs)
        except ChromaError:
            # Its collections were dropped, maybe mid-query: another process published
            # twice since this one last read the pointer. Serve the live generation.
            self.refresh()
            live = self._view
            if live is None or live is view:
                raise
            return live.search(query, *args, **kwargs)
