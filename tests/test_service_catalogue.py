"""Catalogue routes: themes, challenges with mitigations, programmes, documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peerqa.config import Settings
from peerqa.models import Study, study_label
from peerqa.service.app import create_app
from tests.conftest import CORPUS_TEXT

CHALLENGES = [
    "Funding",
    "Barriers to supporting another person",
    "Boundaries and emotional entanglement",
    "Fidelity to the programme",
    "Geographical restrictions",
    "Matching based on condition and cultural similarity",
    "Need to convince professional providers",
]


@pytest.fixture(scope="module")
def client(corpus_settings: Settings):
    with TestClient(create_app(corpus_settings)) as c:
        yield c


def test_themes_count_quotes_and_passages(client):
    themes = {t["theme"]: t for t in client.get("/v1/themes").json()}
    assert set(CHALLENGES) <= set(themes)
    assert all(themes[c]["stance"] == "challenge" for c in CHALLENGES)
    assert themes["Psychosocial benefits"]["stance"] == "benefit"
    assert sum(t["quotes"] for t in themes.values()) == 43  # every quote has a theme
    matching = themes["Matching based on condition and cultural similarity"]
    assert matching["quotes"] == 5
    assert matching["passages"] > matching["quotes"]  # the Results > Matching prose too


def test_challenges_cover_table_4_with_verbatim_mitigations(client):
    challenges = client.get("/v1/challenges").json()
    assert [c["challenge"] for c in challenges] == CHALLENGES
    for challenge in challenges:
        assert challenge["mitigations"], challenge["challenge"]
        for mitigation in challenge["mitigations"]:
            passage = client.get(f"/v1/passages/{mitigation['passage_id']}").json()
            assert mitigation["text"] in passage["text"]
            assert mitigation["text"] in CORPUS_TEXT
        assert challenge["quotes"]
        for quote in challenge["quotes"]:
            assert quote["kind"] == "quote" and quote["section"] == "Table 4"
            assert quote["theme"] == challenge["challenge"]


def test_matching_mitigations_include_matching_on_issues(client):
    matching = next(
        c for c in client.get("/v1/challenges").json() if c["challenge"] == CHALLENGES[5]
    )
    texts = " ".join(m["text"] for m in matching["mitigations"])
    assert "matching based on issues rather than a rare health condition" in texts
    assert "offered other matches" in texts


def test_programmes_a_to_g(client):
    programmes = client.get("/v1/programmes").json()
    assert [p["programme"] for p in programmes] == list("ABCDEFG")
    assert set(programmes[0]) == {
        "programme", "condition", "setting", "reach", "description", "interviewees"
    }  # fmt: skip
    assert [p["interviewees"] for p in programmes] == [8, 6, 5, 9, 5, 7, 1]  # Table 1


def test_documents_with_citation_metadata_and_counts(client):
    (paper,) = client.get("/v1/documents").json()
    assert paper["id"] == "joo-2022-peer-support"
    assert paper["journal"] == "Family Practice" and paper["year"] == 2022
    assert paper["identifier"] == "PMC9508871" and paper["authors"][0] == "Joo JH"
    assert paper["licence"] and len(paper["sha256"]) == 64
    assert paper["by_kind"]["quote"] == 43
    assert paper["passages"] == sum(paper["by_kind"].values())


@pytest.mark.usefixtures("no_model")
@pytest.mark.parametrize(
    "route", ["/v1/themes", "/v1/challenges", "/v1/programmes", "/v1/documents"]
)
def test_empty_store_is_503(settings: Settings, route):
    with TestClient(create_app(settings)) as c:
        assert c.get(route).status_code == 503


# --- which study each document and citation is (API.md "Citation metadata") -----------


@pytest.fixture(scope="module")
def papers_client(tmp_path_factory: pytest.TempPathFactory, corpus_settings: Settings):
    """The bundled paper plus a real user paper (Prescott et al. 2017, as Markdown). The
    bundled paper's vectors are copied from the session's store, not embedded again."""
    from peerqa.index.pipeline import ingest
    from tests.conftest import make_settings
    from tests.workers import clone_index

    settings = make_settings(tmp_path_factory.mktemp("papers") / "data")
    clone_index(corpus_settings, settings)
    ingest([Path(__file__).parent / "fixtures" / "papers" / "paper_1571.md"], settings)
    with TestClient(create_app(settings)) as c:
        yield c


PRESCOTT = {
    "title": "Peer Communication in Online Mental Health Forums for Young People: "
    "Directional and Nondirectional Support",
    "authors": ["Julie Prescott", "Terry Hanley", "Katalin Ujhelyi"],
    "year": 2017,
    "journal": "JMIR Mental Health",
    "doi": "10.2196/mental.6921",
}


@pytest.mark.model
def test_every_document_says_which_study_it_is(papers_client):
    docs = {d["id"]: d for d in papers_client.get("/v1/documents").json()}
    assert docs["paper-1571"]["study"] == PRESCOTT
    joo = docs["joo-2022-peer-support"]["study"]
    assert joo["authors"][0] == "Joo JH" and joo["year"] == 2022
    assert joo["journal"] == "Family Practice" and joo["doi"] is None  # not in the source


@pytest.mark.model
def test_citations_and_search_results_carry_their_study(papers_client):
    body = papers_client.post("/v1/ask", json={"question": "What is Kooth?"}).json()
    cited = [c for c in body["citations"] if c["document"] == "paper-1571"]
    assert cited and all(c["study"] == PRESCOTT for c in cited)
    results = papers_client.post("/v1/search", json={"query": "Kooth forum posts"}).json()
    assert all(r["study"]["title"] for r in results["results"])
    assert study_label(Study(**cited[0]["study"])) == "Prescott et al. 2017, JMIR Mental Health"


@pytest.mark.model
def test_openai_sources_name_the_study(papers_client):
    body = papers_client.post(
        "/v1/chat/completions",
        json={"model": "peerqa", "messages": [{"role": "user", "content": "What is Kooth?"}]},
    ).json()
    sources = body["choices"][0]["message"]["content"].split("\n\nSources:\n")[1]
    assert "Prescott et al. 2017, JMIR Mental Health" in sources


@pytest.mark.parametrize(
    ("study", "label"),
    [
        (Study(authors=["Berg A", "Lee B", "Kim C"], year=2021, journal="PLoS One"),
         "Berg et al. 2021, PLoS One"),
        (Study(authors=["Rayland A", "Andrews J"], year=2023), "Rayland and Andrews 2023"),
        (Study(authors=["Dong (Roman) Xu"], journal="JMIR"), "Xu, JMIR"),
        (Study(title="A study with no authors stated"), "A study with no authors stated"),
    ],
)  # fmt: skip
def test_study_label(study: Study, label: str):
    assert study_label(study) == label
