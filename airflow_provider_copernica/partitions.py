"""Id-range partitions of a keyset-paged listing (profiles, subprofiles, their snapshots).

A partition is a half-open id range ``(after, upto]`` sent as ``fields[]`` conditions
(``id>after``, ``id<=upto``), so that each partition pages by key on its own, exact while
records change. The last partition has no upper bound: records created after the probe still
land somewhere. Partitions are used inside one task (several in flight) and across Airflow
workers (one mapped task each), cut by :func:`split_id_range` (the planner's one probe is
:func:`airflow_provider_copernica.partitioned.probe_id_sample`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaConfigError


@dataclass(frozen=True)
class IdRange:
    """Ids ``after < id <= upto`` (``upto=None``: no upper bound)."""

    after: int = 0
    upto: int | None = None

    def __post_init__(self) -> None:
        if self.after < 0 or (self.upto is not None and self.upto < self.after):
            raise CopernicaConfigError(
                f"invalid id range (after={self.after}, upto={self.upto}): need 0 <= after <= upto"
            )

    def conditions(self) -> tuple[str, ...]:
        """The ``fields[]`` conditions that select this range (none for the whole range)."""
        found = [f"id>{self.after}"] if self.after else []
        if self.upto is not None:
            found.append(f"id<={self.upto}")
        return tuple(found)

    def contains(self, record_id: int) -> bool:
        return record_id > self.after and (self.upto is None or record_id <= self.upto)

    def as_dict(self) -> dict[str, int | None]:
        """Small and JSON-safe: what XCom and ``expand()`` carry."""
        return {"after": self.after, "upto": self.upto}

    @classmethod
    def from_value(cls, value: IdRange | Mapping[str, Any] | Sequence[Any]) -> IdRange:
        """An :class:`IdRange` from itself, ``{"after": a, "upto": u}`` or ``(a, u)``."""
        if isinstance(value, IdRange):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"after", "upto"}
            if unknown:
                raise CopernicaConfigError(
                    f"id_range has unknown keys {sorted(unknown)}; valid keys: after, upto"
                )
            after, upto = value.get("after") or 0, value.get("upto")
        elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
            after, upto = value[0] or 0, value[1]
        else:
            raise CopernicaConfigError(
                f"id_range must be {{'after': N, 'upto': M}} or (N, M), got {value!r}"
            )
        return cls(_whole(after, "after"), None if upto is None else _whole(upto, "upto"))


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CopernicaConfigError(f"id_range {name} must be a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise CopernicaConfigError(
            f"id_range {name} must be a whole number, got {value!r}"
        ) from None


def split_id_range(max_id: int, parts: int, after: int = 0) -> list[IdRange]:
    """``parts`` contiguous ranges covering ``(after, ∞)``, cut evenly up to ``max_id``.

    Ids are assigned in creation order, so even cuts of the id span are close to even in
    records; the last range is open-ended. Fewer ranges when the span is smaller than
    ``parts``.
    """
    if parts < 1:
        raise CopernicaConfigError(f"partitions must be at least 1, got {parts}")
    span = max(max_id - after, 0)
    parts = max(1, min(parts, span))
    cuts = [after + span * k // parts for k in range(parts + 1)]
    ranges = [IdRange(cuts[k], cuts[k + 1]) for k in range(parts)]
    ranges[-1] = IdRange(ranges[-1].after, None)
    return ranges
