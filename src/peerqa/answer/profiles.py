"""What the answer layer knows of a particular paper beyond its passages.

A profile says how to name the paper in an answer, whether its findings come as
challenges and the ways programmes address them (and under which headings), and the
column names of its tables. The Joo et al. 2022 paper has a file in answer/profiles/;
any other paper gets the generic profile made from its citation metadata: no layout of
its own and table columns read from the row's retrieval context when they line up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from peerqa.models import DocumentInfo, study_label

PROFILES_DIR = Path(__file__).with_name("profiles")


@dataclass(frozen=True)
class TableLayout:
    columns: tuple[str, ...]  # the row's data cells, label cell excluded
    align: str  # "left" or "right": which end of a row the columns are counted from
    main: str  # the column that answers when nothing else is asked
    name_main: bool  # whether the main column's name is said ("n (%): 9 (22)")


@dataclass(frozen=True)
class Profile:
    document: str
    label: str  # how an answer names the paper ("Joo et al. 2022, Family Practice")
    grouped_layout: dict[str, str] = field(default_factory=dict)  # stance -> heading
    tables: dict[str, TableLayout] = field(default_factory=dict)
    # The roles the study interviewed ("programme leaders", …), and per unit where a unit
    # differs ("G": programme leaders only); empty when the paper has no such profile.
    interviewed: tuple[str, ...] = ()
    interviewed_by_unit: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unit_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "G": Weight Watchers
    # What kind of study it is (a name of answer/lexicon.json's "designs") and how an
    # answer says so; "" when unknown.
    design: str = ""
    design_said: str = ""
    # How its programmes delivered peer support (names of the lexicon's "delivery_modes"),
    # and how an answer says so.
    delivery: tuple[str, ...] = ()
    delivery_said: str = ""
    generic: bool = True  # made from citation metadata alone: no profile file of its own


@cache
def _files() -> dict[str, dict]:
    found = {}
    for path in sorted(PROFILES_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["document"]] = data
    return found


def citation_label(info: DocumentInfo | None, document: str) -> str:
    """ "Surname et al. Year, Journal" from the metadata, else the document id."""
    if info is None:
        return document
    return study_label(info.study, info.title or document)


def profile_for(document: str, info: DocumentInfo | None = None) -> Profile:
    data = _files().get(document)
    if data is None:
        return Profile(document=document, label=citation_label(info, document))
    return Profile(
        document=document,
        label=data.get("label") or citation_label(info, document),
        grouped_layout=dict(data.get("grouped_layout", {})),
        tables={
            name: TableLayout(
                columns=tuple(t["columns"]),
                align=t["align"],
                main=t["main"],
                name_main=t["name_main"],
            )
            for name, t in data.get("tables", {}).items()
        },
        interviewed=tuple(data.get("interviewed", {}).get("roles", ())),
        interviewed_by_unit={
            unit: tuple(roles)
            for unit, roles in data.get("interviewed", {}).get("by_unit", {}).items()
        },
        unit_names={
            u: tuple(n) for u, n in data.get("unit_names", {}).items() if not u.startswith("_")
        },
        design=data.get("design", {}).get("name", ""),
        design_said=data.get("design", {}).get("said", ""),
        delivery=tuple(data.get("delivery", {}).get("modes", ())),
        delivery_said=data.get("delivery", {}).get("said", ""),
        generic=False,
    )
