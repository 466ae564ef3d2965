"""How a study is named to a reader: no "et al.." and no stray period from an author list."""

from __future__ import annotations

from peerqa.models import Study, sentences, study_label, surname


def test_an_author_string_ending_in_a_period_gives_the_plain_surname():
    assert surname("Jacob Andrews.") == "Andrews"
    assert surname("Joo J.H.") == "Joo"  # initials keep their periods, and are not the name
    assert surname("Smith, J.") == "Smith"
    study = Study(authors=["Amy Rayland", "Jacob Andrews."], year=2023)
    assert study_label(study) == "Rayland and Andrews 2023"


def test_a_label_ending_in_et_al_is_not_given_a_second_period():
    label = study_label(Study(authors=["Natasha Lyons", "Chris Cooper", "B Lloyd-Evans."]))
    assert label == "Lyons et al."
    assert sentences(label, "A systematic review") == "Lyons et al. A systematic review"
    assert sentences("Joo et al. 2022, Family Practice", "The benefits") == (
        "Joo et al. 2022, Family Practice. The benefits"
    )
    assert sentences(None, "Title only", "") == "Title only"
