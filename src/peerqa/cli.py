"""The `peerqa` command: a thin layer over the same functions the HTTP routes call."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from peerqa.config import get_settings, go_offline
from peerqa.models import Filters
from peerqa.service.schemas import SearchResponse

go_offline()  # the entry point: before any command loads a model

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to add")] = None,
    as_json: JsonFlag = False,
    progress: Annotated[bool | None, typer.Option(help="Progress bar (default: on a TTY)")] = None,
) -> None:
    """Parse the bundled corpus and any PATHs (.txt .md .html .pdf) into the index."""
    import peerqa.answer.values  # noqa: F401  (the answer values are made before a publish)
    from peerqa.index.pipeline import ingest as run_ingest
    from peerqa.ingest.sources import SourceError
    from peerqa.store import admin_lock

    show = sys.stderr.isatty() if progress is None else progress
    settings = get_settings()
    try:
        # One writer at a time with the service's admin writes: each publish removes
        # every unpublished generation, which would include another writer's.
        with admin_lock(settings):
            report = run_ingest(paths or [], settings, progress=show)
    except SourceError as err:
        fail(f"{err} (index unchanged)")
    if as_json:
        typer.echo(report.model_dump_json(include={"documents", "passages", "by_kind", "embedded"}))
        return
    kinds = ", ".join(f"{n} {k}" for k, n in report.by_kind.items())
    typer.echo(f"documents: {report.documents}")
    typer.echo(f"passages: {report.passages} ({kinds})")
    typer.echo(f"references resolved: {report.references_resolved}")
    typer.echo(f"sentences indexed: {report.sentences}")
    typer.echo(f"embeddings computed: {report.embedded}")


def _index():
    from peerqa.retrieval.hybrid import LiveIndex

    index = LiveIndex(get_settings())
    if not index.ready:
        fail("the index is empty: run `peerqa ingest` first")
    return index


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50)] = 5,
    kind: Annotated[
        list[str] | None, typer.Option(help="paragraph, quote, table_row, reference")
    ] = None,
    stance: Annotated[list[str] | None, typer.Option(help="benefit, challenge, mitigation")] = None,
    programme: Annotated[list[str] | None, typer.Option(help="A..G")] = None,
    role: Annotated[list[str] | None, typer.Option()] = None,
    theme: Annotated[list[str] | None, typer.Option()] = None,
    document: Annotated[list[str] | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ranked evidence passages for QUERY, with provenance."""
    from pydantic import ValidationError

    from peerqa.retrieval.hybrid import UnknownFilterValue

    try:
        filters = Filters(
            kind=kind, stance=stance, programme=programme, role=role, theme=theme, document=document
        )
        results = _index().search(query, top_k=top_k, filters=filters)
    except ValidationError as err:
        first = err.errors()[0]
        fail(f"--{first['loc'][0]}: {first['msg']}")
    except UnknownFilterValue as err:
        fail(f"--{err.key}: unknown value {err.value!r}")
    if as_json:
        typer.echo(SearchResponse(query=query, results=results).model_dump_json(indent=2))
        return
    for rank, p in enumerate(results, 1):
        tags = " · ".join(
            str(t)
            for t in (p.kind, p.stance, p.theme, p.programme and f"Programme {p.programme}", p.role)
            if t
        )
        typer.echo(f"{rank}. {p.id}  [{p.section}]  {tags}  score {p.score:.4f}")
        typer.echo(textwrap.indent(textwrap.fill(p.text, 96), "   "))
        if p.references:
            typer.echo(f"   cites: {', '.join(str(r.n) for r in p.references)}")
        typer.echo()


@app.command()
def ask(
    question: str,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50)] = 8,
    as_json: JsonFlag = False,
) -> None:
    """A cited answer from the evidence, or an honest abstention."""
    from peerqa.answer.compose import compose

    result = compose(_index(), question, top_k=top_k)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    typer.echo(result.answer)
    if result.abstained:
        typer.echo(f"\n(abstained: {result.reason})")
    for c in result.citations:
        who = ", ".join(str(t) for t in (c.programme and f"Programme {c.programme}", c.role) if t)
        typer.echo(f"\n{c.marker} {c.id} [{c.section}]{' ' + who if who else ''}")


@app.command(name="eval")
def evaluate(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where report.{md,json,png} and answers.jsonl go (default: eval/reports in "
            "a checkout; DATA_DIR/eval-reports when installed, which ships no reports)"
        ),
    ] = None,
) -> None:
    """Score retrieval and answers on the curated set, beside llama-index defaults;
    writes eval/reports/report.{md,json,png}."""
    from peerqa.eval.render import render_text
    from peerqa.eval.run import REPORTS_DIR, run_eval

    settings = get_settings()
    if out is None:
        out = REPORTS_DIR if REPORTS_DIR.is_dir() else settings.data_dir / "eval-reports"
    typer.echo(render_text(run_eval(settings, out)))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the HTTP API (and chat page) with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "peerqa.service.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        # The service logs each request as a JSON line itself (service/middleware.py), and
        # believes X-Forwarded-For only when told to (uvicorn would from 127.0.0.1).
        access_log=False,
        proxy_headers=settings.trust_forwarded_for,
    )


@app.command()
def mcp() -> None:
    """Serve the MCP tools (search_evidence, ask, get_passage, list_*) over stdio, for an
    AI assistant that starts peerqa itself (see the README's MCP section)."""
    from peerqa.service.mcp_server import run_stdio

    run_stdio(get_settings())


if __name__ == "__main__":
    app()
