"""The dataset catalog: one declarative entry per dataset of the public contract.

Everything that differs between datasets (endpoint, options, how the data interval becomes
API parameters, which record field is checked against the interval, request plan, paging
style, key and columns) is data in a :class:`Dataset` entry; plans, paging styles and window
styles are named from their registries (``planning.PLANS``, ``paging.PAGINATORS``,
``window_params.WINDOW_STYLES``). The one generic engine (``extract.py``) reads
these entries; nothing outside this module branches on a dataset's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from airflow_provider_copernica.config import PRODUCTS
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.schema import Column
from airflow_provider_copernica.window_params import WindowParams

__all__ = [
    "DATASETS",
    "METADATA_COLUMNS",
    "Dataset",
    "Discovery",
    "EventIndex",
    "FanOut",
    "WindowParams",
    "WindowStyle",
    "check_fields",
    "field_names",
    "get_dataset",
    "validate_metadata",
    "validate_options",
]

WindowStyle = str | WindowParams
"""A window-parameter style: a name in ``window_params.WINDOW_STYLES``, or a record."""

DEFAULT_PRODUCT = "draganddrop"
OPTION_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "database_id": "a positive integer",
        "collection_id": "a positive integer",
        "product": f"one of {', '.join(PRODUCTS)}",
    }
)


@dataclass(frozen=True)
class FanOut:
    """The ``fan_out`` plan: list items at ``list_path``, then GET ``item_path`` once per item.

    The item's ``item_key`` becomes the output row's key column.
    """

    list_path: str
    item_path: str
    item_key: str = "id"
    list_paging: str = "offset"
    list_window: WindowStyle | None = None
    """How the window filters the list (e.g. items created after its end are skipped)."""
    require_any: tuple[str, ...] = ()
    """Keep an item's row only if one of these objects has a non-zero ``total``."""
    item_window: bool = True
    """Send the window's filter with each item request (False: the item as of the run)."""
    item_fields: tuple[str, ...] = ()
    """Fields of the listed item copied into its row (e.g. the emailing's ``timestamp``)."""
    from_events: EventIndex | None = None
    """The ``event_fan_out`` plan: find the items in the window's event listings instead."""


@dataclass(frozen=True)
class EventIndex:
    """Where the ``event_fan_out`` plan finds the items having events in the window: it lists
    each of ``paths`` for the window (``window``, by product when it differs) and collects the
    item ids its records name in one of ``item_fields``. The cost follows the window's events,
    not the number of items ever created."""

    paths: tuple[str, ...]
    window: WindowStyle | Mapping[str, WindowStyle]
    item_fields: tuple[str, ...] = ("mailing", "emailing")

    def window_for(self, product: str | None) -> WindowStyle:
        if isinstance(self.window, Mapping):
            return self.window[product or DEFAULT_PRODUCT]
        return self.window


@dataclass(frozen=True)
class Discovery:
    """One call listing a database's/collection's own fields, giving ``fields.<name>`` columns."""

    path: str
    prefix: str = "fields"


@dataclass(frozen=True)
class Dataset:
    """One catalog entry. Paths are ``str.format`` templates over the validated options
    (``{database_id}``, ``{collection_id}``, ``{product}`` = the product's URL segment)."""

    name: str
    description: str
    path: str
    columns: tuple[Column, ...] | Mapping[str, tuple[Column, ...]]
    """The columns; a mapping by product when the products' records differ."""
    required_options: tuple[str, ...] = ()
    product: bool = False
    """Accepts the ``product`` option (``draganddrop`` default, or ``html``)."""
    plan: str = "single"
    """Which requests to make: a name in ``planning.PLANS`` (single, fan_out, per_day)."""
    paging: str = "offset"
    """How the data requests are paged: a name in ``paging.PAGINATORS`` (offset, keyset,
    id_array, single). The fan_out and per_day plans ask for single objects (``single``);
    a fan-out's list is paged by ``FanOut.list_paging``."""
    window_params: WindowStyle | Mapping[str, WindowStyle] | None = None
    """How the interval becomes API filters (by product when it differs); None = snapshot."""
    timestamp_field: str | None = None
    """Record field checked client-side against the half-open window."""
    interval_filter: str = "snapshot (no filter)"
    key: str = "id"
    fan_out: FanOut | None = None
    discovery: Discovery | None = None
    extra_params: tuple[tuple[str, str], ...] = ()
    """Constant parameters sent with every data request."""

    @property
    def snapshot(self) -> bool:
        return self.window_params is None

    @property
    def option_names(self) -> tuple[str, ...]:
        return self.required_options + (("product",) if self.product else ())

    def columns_for(self, product: str | None) -> tuple[Column, ...]:
        if isinstance(self.columns, Mapping):
            return self.columns[product or DEFAULT_PRODUCT]
        return self.columns

    def window_params_for(self, product: str | None) -> WindowStyle | None:
        if isinstance(self.window_params, Mapping):
            return self.window_params[product or DEFAULT_PRODUCT]
        return self.window_params


def _cols(spec: str) -> tuple[Column, ...]:
    """``"id:int name created:timestamp"`` -> Columns (type defaults to str)."""
    out = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        out.append(Column(name, kind or "str"))  # type: ignore[arg-type]
    return tuple(out)


# Drag-and-drop (Marketing Suite) events name the emailing `mailing`; newer docs add
# profile/subprofile, so they are declared (null when absent).
_DD_EVENT = "id:int mailing:int timestamp:timestamp destination:int profile:int subprofile:int"
_HTML_EVENT = "id:int timestamp:timestamp emailing:int destination:int profile:int subprofile:int"
_EVENT_COLUMNS: dict[str, tuple[str, str, str]] = {
    # event: (description, drag-and-drop extra columns, html extra columns)
    "deliveries": ("Delivered messages", "attempts:int", "attempt:int smtp-response"),
    "impressions": (
        "Opens (impressions)",
        "ip useragent device",
        "ip useragent device referer",
    ),
    "clicks": (
        "Clicks on links",
        "link ip useragent",
        "link_id:int link link_title ip useragent referer",
    ),
    "errors": (
        "Bounces and delivery errors",
        "status errorcode description errortype",
        "errorcode description errortype errortypedescription",
    ),
    "unsubscribes": ("Unsubscribes", "source", "source success:bool"),
    "abuses": (
        "Abuse (spam) reports",
        "report:json",
        "recognized_as feedback_type arf_version details",
    ),
}
_EVENT_WINDOW: Mapping[str, WindowStyle] = MappingProxyType(
    {"draganddrop": "begintime_endtime", "html": "fields_timestamp"}
)
_STAT_EVENTS = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
"""The event kinds of an emailing's statistics (an emailing with none in a window has no row)."""
_STAT_METRICS = (
    "destinations:int deliveries.total:int errors.total:int errors.unique:int "
    "impressions.total:int impressions.unique:int clicks.total:int clicks.unique:int "
    "unsubscribes.total:int unsubscribes.unique:int abuses.total:int abuses.unique:int "
    "retries.total:int retries.unique:int unknown.total:int "
    "dominant_results.destinations:int dominant_results.deliveries:int "
    "dominant_results.errors:int dominant_results.impressions:int dominant_results.clicks:int "
    "dominant_results.unsubscribes:int dominant_results.abuses:int"
)


def _modified_records(
    name: str, description: str, *, owner: str, records: str, columns: str
) -> Dataset:
    """A database's profiles or a collection's subprofiles: keyset pages filtered by
    ``modified``, with the owner's own fields discovered as ``fields.<name>`` columns."""
    option = f"{owner}_id"
    return Dataset(
        name=name,
        description=description,
        path=f"{owner}/{{{option}}}/{records}",
        required_options=(option,),
        paging="keyset",
        window_params="fields_modified",
        timestamp_field="modified",
        interval_filter="modified in interval",
        columns=_cols(columns),
        discovery=Discovery(f"{owner}/{{{option}}}/fields"),
    )


def _entries() -> list[Dataset]:
    entries = [
        Dataset(
            name="databases",
            description="Databases of the account",
            path="databases",
            columns=_cols("id:int name description archived:bool created:timestamp"),
        ),
        Dataset(
            name="database_fields",
            description="Field definitions of a database",
            path="database/{database_id}/fields",
            required_options=("database_id",),
            columns=_cols(
                "id:int name type value displayed:bool ordered:bool length:int textlines:int "
                "hidden:bool index:bool"
            ),
        ),
        Dataset(
            name="collections",
            description="Collections of a database",
            path="database/{database_id}/collections",
            required_options=("database_id",),
            columns=_cols("id:int name database:int"),
        ),
        _modified_records(
            "profiles",
            "Profiles modified in the interval (with the database's own fields)",
            owner="database",
            records="profiles",
            columns="id:int database:int secret created:timestamp modified:timestamp "
            "removed:timestamp interests:list",
        ),
        _modified_records(
            "subprofiles",
            "Subprofiles modified in the interval (with the collection's own fields)",
            owner="collection",
            records="subprofiles",
            columns="id:int profile:int collection:int secret created:timestamp "
            "modified:timestamp removed:timestamp",
        ),
        Dataset(
            name="emailings",
            description="Emailings sent in the interval",
            path="{product}/emailings",
            product=True,
            window_params="fromdate_todate",
            timestamp_field="timestamp",
            interval_filter="emailing timestamp in interval",
            columns={
                "draganddrop": _cols(
                    "id:int timestamp:timestamp template:int subject from_address.name "
                    "from_address.email destinations:int type target.type target.sources:json"
                ),
                "html": _cols(
                    "id:int timestamp:timestamp document:int template:int subject description "
                    "from_address.name from_address.email destinations:int testgroups:int "
                    "finalgroup:int type clicks:int impressions:int errors:int "
                    "unsubscribes:int abuses:int contenttype target.type target.sources:json"
                ),
            },
        ),
        Dataset(
            name="emailing_statistics",
            description="Per emailing with events in the interval: their statistics",
            path="{product}/emailing/{id}/statistics",
            product=True,
            plan="event_fan_out",
            paging="single",
            window_params="begintime_endtime",
            interval_filter="statistics of events in interval (begintime/endtime)",
            # The emailings with events in the window are the ones its event listings name
            # (exact: a statistic counts exactly these events), so a run pays for the
            # window's events and its active emailings, not for every emailing ever sent.
            fan_out=FanOut(
                list_path="{product}/emailings",
                item_path="{product}/emailing/{id}/statistics",
                require_any=_STAT_EVENTS,
                from_events=EventIndex(
                    paths=tuple("{product}/" + event for event in _STAT_EVENTS),
                    window=_EVENT_WINDOW,
                ),
            ),
            columns=_cols("id:int " + _STAT_METRICS),
        ),
        Dataset(
            name="destinations",
            description="Destinations (messages sent) in the interval",
            path="{product}/destinations",
            product=True,
            window_params="from_to_dates",
            timestamp_field="timestampsent",
            interval_filter="sent time in interval",
            columns={
                "draganddrop": _cols(
                    "id:int messageID timestampsent:timestamp profile:int subprofile:int "
                    "mailing:int unsubscribed:bool"
                ),
                # documented as a hash: numeric strings become int, anything else is kept
                "html": _cols(
                    "id:int timestampsent:timestamp internal:int profile:int subprofile:int "
                    "mailing:int mailing-group:int"
                ),
            },
        ),
        Dataset(
            name="consumption",
            description="Account consumption, one row per local day ending in the interval",
            path="consumption",
            plan="per_day",
            paging="single",
            window_params="begin_end_dates",
            interval_filter="totals of the local days that end in the interval",
            key="date",
            columns=_cols(
                "date emails:int texts:int fax:int webpages:int apicalls:int litmustests:int "
                "twofiftyoktests:int"
            ),
        ),
    ]
    for event, (description, dd_extra, html_extra) in _EVENT_COLUMNS.items():
        entries.append(
            Dataset(
                name=event,
                description=f"{description} in the interval",
                path="{product}/" + event,
                product=True,
                window_params=_EVENT_WINDOW,
                timestamp_field="timestamp",
                interval_filter="event timestamp in interval",
                columns={
                    "draganddrop": _cols(f"{_DD_EVENT} {dd_extra}"),
                    "html": _cols(f"{_HTML_EVENT} {html_extra}"),
                },
            )
        )
    # --- faithful copy: lifetime statistics ---
    entries.append(
        Dataset(
            name="emailing_lifetime_statistics",
            description="Emailings sent in the interval, with their statistics as of the run",
            path="{product}/emailing/{id}/statistics",
            product=True,
            plan="fan_out",
            paging="single",
            window_params="fromdate_todate",
            timestamp_field="timestamp",
            interval_filter="emailing timestamp in interval; statistics as of the run",
            # No begintime/endtime: every event up to the run counts, so re-extracting a
            # past interval (restatement) lets its late opens and clicks arrive.
            fan_out=FanOut(
                list_path="{product}/emailings",
                item_path="{product}/emailing/{id}/statistics",
                list_window="fromdate_todate",
                item_window=False,
                item_fields=("timestamp",),
            ),
            columns=_cols("id:int timestamp:timestamp " + _STAT_METRICS),
        )
    )
    return entries


DATASETS: Mapping[str, Dataset] = MappingProxyType({d.name: d for d in _entries()})

METADATA_COLUMNS: Mapping[str, Column] = MappingProxyType(
    {
        "_extracted_at": Column("_extracted_at", "timestamp"),
        "_interval_start": Column("_interval_start", "timestamp"),
        "_interval_end": Column("_interval_end", "timestamp"),
        "_dataset": Column("_dataset", "str"),
        "_run_id": Column("_run_id", "str"),
    }
)


def get_dataset(name: str) -> Dataset:
    """The catalog entry for ``name``; unknown names fail listing the valid ones."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise CopernicaConfigError(
            f"Unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}"
        ) from None


def validate_metadata(names: object) -> tuple[str, ...]:
    """Check metadata column names; unknown ones fail listing the valid ones."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = (names,)
    result = tuple(names)  # type: ignore[arg-type]
    unknown = [n for n in result if n not in METADATA_COLUMNS]
    if unknown:
        raise CopernicaConfigError(
            f"Unknown metadata column(s) {', '.join(map(repr, unknown))}; "
            f"valid metadata columns: {', '.join(METADATA_COLUMNS)}"
        )
    return result


def check_fields(dataset: Dataset, names: Iterable[str], available: Iterable[str]) -> None:
    """Fail naming the unknown field(s) of ``names`` and listing the ``available`` columns."""
    available = list(available)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise CopernicaConfigError(
            f"Unknown field(s) {', '.join(map(repr, unknown))} for dataset {dataset.name!r}; "
            f"available columns: {', '.join(available)}"
        )


def validate_options(dataset: Dataset, options: Mapping[str, object] | None) -> dict[str, object]:
    """Check a dataset's options; returns them normalised (ids as int, product defaulted)."""
    if options is not None and not isinstance(options, Mapping):
        raise CopernicaConfigError(
            f"dataset_options must be a mapping (dict), got {type(options).__name__}"
        )
    given = dict(options or {})
    valid = dataset.option_names
    unknown = sorted(k for k in given if k not in valid)
    if unknown:
        choices = ", ".join(valid) if valid else "none (this dataset takes no options)"
        raise CopernicaConfigError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} for dataset {dataset.name!r}; "
            f"valid options: {choices}"
        )
    result: dict[str, object] = {}
    for name in dataset.required_options:
        if given.get(name) in (None, ""):
            raise CopernicaConfigError(
                f"Dataset {dataset.name!r} needs option {name!r} ({OPTION_TYPES[name]}), "
                f"e.g. dataset_options={{{name!r}: 7616}}"
            )
        result[name] = _positive_int(name, given[name])
    if dataset.product:
        product = given.get("product") or DEFAULT_PRODUCT
        if product not in PRODUCTS:
            raise CopernicaConfigError(
                f"Unknown product {product!r} for dataset {dataset.name!r}; "
                f"valid products: {', '.join(PRODUCTS)}"
            )
        result["product"] = product
    return result


def _positive_int(name: str, value: object) -> int:
    # Only plain digits: the value goes into a URL path, so "1/../x" or "1&limit=5" must fail.
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise CopernicaConfigError(f"Option {name!r} must be {OPTION_TYPES[name]}, got {value!r}")
    return int(text)


def field_names(fields: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """``fields`` as a user gives it (a list, or a comma-separated string) -> unique names."""
    if fields is None:
        return None
    if isinstance(fields, str):
        fields = fields.split(",")
    if not isinstance(fields, Sequence):
        raise CopernicaConfigError(f"fields must be a list of column names, got {fields!r}")
    names = [str(name).strip() for name in fields]
    if not all(names):
        raise CopernicaConfigError(f"fields contains an empty column name: {list(fields)!r}")
    return tuple(dict.fromkeys(names))
