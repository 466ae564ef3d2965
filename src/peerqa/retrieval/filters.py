"""Filter columns: each filterable key over a generation's passages, as codes by
position, and the API's filters as a Chroma `where`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Column:
    """One filterable key over a generation's passages, by position: each passage's value
    as a code into the sorted distinct values ("" for none). Codes, not strings: at 100k
    passages a column of strings costs tens of MB, its codes 400 kB."""

    values: np.ndarray  # sorted distinct values
    codes: np.ndarray  # int32, one per passage

    @classmethod
    def of(cls, values: Sequence[str]) -> Column:
        distinct, codes = np.unique(np.asarray(values, dtype=object), return_inverse=True)
        return cls(distinct, codes.astype(np.int32))

    def mask(self, wanted: Sequence[str]) -> np.ndarray:
        """The passages whose value is one of `wanted`."""
        return np.isin(self.codes, np.flatnonzero(np.isin(self.values, list(wanted))))

    def vocabulary(self) -> list[str]:
        return [v for v in self.values.tolist() if v]

    def __contains__(self, value: str) -> bool:
        i = int(np.searchsorted(self.values, value))
        return bool(value) and i < len(self.values) and self.values[i] == value


def chroma_where(active: dict[str, list[str]]) -> dict[str, Any] | None:
    """API filters as a Chroma `where`: OR within a key ($in), AND across keys."""
    clauses: list[dict[str, Any]] = [{k: {"$in": list(v)}} for k, v in active.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
