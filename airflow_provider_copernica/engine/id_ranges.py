"""Id-range partitions of a keyset-paged listing (profiles, subprofiles, their snapshots).

A partition is a half-open id range ``(after, upto]`` sent as ``fields[]`` conditions
(``id>after``, ``id<=upto``), so that each partition pages by key on its own, exact while
records change. The last partition has no upper bound: records created after the probe still
land somewhere. Partitions are used inside one task (several in flight) and across Airflow
workers (one mapped task each), cut by :func:`split_id_range` (the planner's one probe is
:func:`probe_id_sample`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook


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


@dataclass(frozen=True)
class IdSample:
    """What the planner's one probe learnt: the highest id, the record count, and the
    lowest id among the ``sampled`` highest records."""

    max_id: int
    total: int
    lowest_sampled: int
    sampled: int

    @property
    def low_estimate(self) -> int:
        """Where the ids begin: exact when the sample holds every record, else extrapolated
        from the sample's id density (Copernica's ids are account-wide, so a database's ids
        are neither dense nor starting near 0)."""
        if self.sampled == 0:
            return 0
        if self.sampled >= self.total or self.sampled == 1:
            return max(self.lowest_sampled - 1, 0)
        ids_per_record = (self.max_id - self.lowest_sampled) / (self.sampled - 1)
        return max(int(self.max_id - ids_per_record * self.total), 0)

    def split(self, parts: int) -> list[IdRange]:
        """``parts`` ranges cut evenly between the estimated lowest and the highest id;
        the first starts at 0 and the last is open-ended, so no record is missed whatever
        the estimate."""
        ranges = split_id_range(self.max_id, parts, after=self.low_estimate)
        ranges[0] = IdRange(0, ranges[0].upto)
        return ranges


def probe_id_sample(
    hook: CopernicaHook, path: str, params: Sequence[tuple[str, str]], sample: int
) -> IdSample:
    """ONE request: the ``sample`` highest-id records of the listing (``orderby=id&order=
    desc``) with the envelope's ``total``: a whole page, whose ids show how dense they are
    (one call whatever its size: calls are billed, not bytes)."""
    owned = {"start", "limit", "orderby", "order", "total"}
    query = [(k, v) for k, v in params if k not in owned]
    query += [("orderby", "id"), ("order", "desc"), ("limit", str(sample)), ("total", "true")]
    body = hook.get(path, query)
    if not isinstance(body, Mapping):
        raise CopernicaAPIError(f"GET {path}: expected a paged envelope to probe id bounds")
    records = body.get("data") or []
    total = int(body.get("total") or 0)
    try:
        ids = [int(r.get("ID", r.get("id"))) for r in records]
    except (TypeError, ValueError):
        raise CopernicaAPIError(f"GET {path}: a probed record has no integer ID") from None
    if not ids:
        return IdSample(0, total, 0, 0)
    return IdSample(max(ids), max(total, len(ids)), min(ids), len(ids))
