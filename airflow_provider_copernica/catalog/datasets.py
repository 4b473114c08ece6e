"""The dataset catalog: one declarative entry per dataset of the public contract.

Everything that differs between datasets (endpoint, options, how the data interval becomes
API parameters, which record field is checked against the interval, request plan, paging
style, key and columns) is data in a :class:`Dataset` entry; plans, paging styles and window
styles are named from their registries (``planning.PLANS``, ``paging.PAGINATORS``,
``window_params.WINDOW_STYLES``). The one generic engine (``extract.py``) reads
these entries; nothing outside this module branches on a dataset's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import cast

from airflow_provider_copernica.catalog import endpoint, logfiles
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.catalog.window_styles import WindowParams
from airflow_provider_copernica.client.settings import PRODUCTS
from airflow_provider_copernica.exceptions import CopernicaConfigError

__all__ = [
    "DATASETS",
    "METADATA_COLUMNS",
    "KINDS",
    "Choice",
    "Dataset",
    "Discovery",
    "Enrich",
    "EventIndex",
    "FanOut",
    "Nested",
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
OptionCheck = Callable[[str, object], object]

DEFAULT_PRODUCT = "draganddrop"
OPTION_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "database_id": "a positive integer",
        "collection_id": "a positive integer",
        "view_id": "a positive integer",
        "miniview_id": "a positive integer",
        "couponcampaign_id": "a positive integer",
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
    """One call listing a database's/collection's own fields, giving ``fields.<name>`` columns.

    With ``lookup`` (e.g. ``view/{view_id}``) one call first reads the owner's id from that
    object's ``lookup_field`` (a view's ``database``), which fills ``{owner}`` in ``path``."""

    path: str
    prefix: str = "fields"
    lookup: str | None = None
    lookup_field: str = ""


KINDS: tuple[str, ...] = ("structure", "profiles", "emailings", "events", "statistics", "logfiles")
KINDS += ("selections", "other")
"""How ``copernica datasets`` and docs/datasets.md group the catalog (``Dataset.kind``)."""


@dataclass(frozen=True)
class Choice:
    """A dataset option with a fixed set of values, checked before any call. With ``param``
    the value is sent as that API parameter; with ``window``, ``true`` sends the interval as
    that window style (the snapshot entry becomes windowed); otherwise it switches an
    :class:`Enrich` on."""

    name: str
    values: tuple[str, ...]
    param: str | None = None
    products: tuple[str, ...] = PRODUCTS
    """The products it applies to (refused for the others)."""
    description: str = ""
    window: WindowStyle | None = None
    """Sent for the interval when the option is ``true`` (records without a time field:
    the API's filter is the interval's only check)."""


BOOL = ("true", "false")


@dataclass(frozen=True)
class Enrich:
    """One extra GET per record (``path`` with ``{id}`` = the record's key), whose answer
    (its ``data`` when it has one, then its ``field`` if given) becomes column ``column``.
    Billed per record: entries use it for small lists (a view's rules) or behind a
    :class:`Choice` option named ``option`` (an emailing's name)."""

    column: Column
    path: str
    field: str | None = None
    option: str | None = None
    products: tuple[str, ...] = PRODUCTS


@dataclass(frozen=True)
class Nested:
    """The ``nested`` plan: the entry's path lists the top level; every record whose
    ``has_children`` is true has its children listed at ``children_path`` (``{id}``), and so
    on down (each level offset paged)."""

    children_path: str
    has_children: str = "has-children"


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
    """Which requests to make: a name in ``plans.PLANS`` (single, fan_out, event_fan_out,
    per_day, logfiles, nested)."""
    paging: str = "offset"
    """How the data requests are paged: a name in ``paging.PAGINATORS`` (offset, keyset,
    id_array, unpaged, logfile). The fan_out and per_day plans ask for single objects
    (``unpaged``: one request, one page); a fan-out's list is paged by ``FanOut.list_paging``."""
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
    deletions_of: str | None = None
    """A deletions dataset: the id-snapshot dataset whose consecutive snapshots it compares
    (``deletions.py``; the snapshots are kept in the operator's ``state_uri``)."""
    kind: str = "other"
    """The catalog group (one of ``KINDS``)."""
    products: tuple[str, ...] = PRODUCTS
    """The products a ``product`` entry serves (the first is the default)."""
    choices: tuple[Choice, ...] = ()
    nested: Nested | None = None
    enrich: tuple[Enrich, ...] = ()
    optional_options: tuple[str, ...] = ()
    option_checks: Mapping[str, OptionCheck] = field(default_factory=dict)
    """Option name -> ``check(dataset_name, value) -> normalised value`` (raises
    ``CopernicaConfigError`` naming the valid choices); ids default to positive integers."""
    configure: Callable[[Dataset, Mapping[str, object]], Dataset] | None = None
    """For entries shaped by their options (the generic ``endpoint``): the entry to run."""
    infer_columns: bool = False
    """No declared columns: they are read from the first page and pinned for the run."""
    survey_keys: bool = False
    """The plan reads every record once for its keys before the first page (logfiles,
    ``catalog/logfiles.KeySurvey``): rows are checked against the declared columns, and
    ``schema_policy`` decides about the keys they lack or add (``faithful/drift.py``)."""

    def configured(self, options: Mapping[str, object]) -> Dataset:
        """The entry for these validated options: windowed by a ``window`` choice set to
        ``true``, then shaped by ``configure`` (itself when neither applies)."""
        entry = self
        for choice in self.choices:
            if choice.window is not None and options.get(choice.name) == "true":
                entry = replace(
                    entry, window_params=choice.window, interval_filter=choice.description
                )
        return entry if entry.configure is None else entry.configure(entry, options)

    @property
    def snapshot(self) -> bool:
        return self.window_params is None

    @property
    def option_names(self) -> tuple[str, ...]:
        product = ("product",) if self.product else ()
        return (
            self.required_options
            + product
            + tuple(c.name for c in self.choices)
            + self.optional_options
        )

    @property
    def default_product(self) -> str | None:
        return self.products[0] if self.product else None

    def columns_for(
        self, product: str | None, options: Mapping[str, object] | None = None
    ) -> tuple[Column, ...]:
        """The entry's columns for ``product``, plus those of the enrichments ``options``
        switch on."""
        product = product or self.default_product
        if isinstance(self.columns, Mapping):
            base = self.columns[product or DEFAULT_PRODUCT]
        else:
            base = self.columns
        return base + tuple(e.column for e in self.enrichments(product, options or {}))

    def enrichments(self, product: str | None, options: Mapping[str, object]) -> list[Enrich]:
        """The per-record calls this request makes."""
        return [
            e
            for e in self.enrich
            if (product is None or product in e.products)
            and (e.option is None or options.get(e.option) == "true")
        ]

    def request_params(self, options: Mapping[str, object]) -> list[tuple[str, str]]:
        """Constant parameters plus the API parameters of the given choice options."""
        params = list(self.extra_params)
        for choice in self.choices:
            if choice.param is not None and options.get(choice.name) is not None:
                params.append((choice.param, str(options[choice.name])))
        return params

    def window_params_for(self, product: str | None) -> WindowStyle | None:
        if isinstance(self.window_params, Mapping):
            return self.window_params[product or self.default_product or DEFAULT_PRODUCT]
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


_PROFILE_COLUMNS = (
    "id:int database:int secret created:timestamp modified:timestamp removed:timestamp "
    "interests:list"
)
_SUBPROFILE_COLUMNS = (
    "id:int profile:int collection:int secret created:timestamp modified:timestamp "
    "removed:timestamp"
)
# Dataset options that become API parameters, or switch on per-emailing calls.
EMAILING_STATUSES = ("sent", "draft", "scheduled", "all")
_EMAILING_CHOICES = (
    Choice(
        "status",
        EMAILING_STATUSES,
        param="status",
        products=("draganddrop",),
        description="which emailings (the API's default: sent)",
    ),
    Choice(
        "test",
        ("yes", "no", "both"),
        param="test",
        products=("html",),
        description="test sendings only, none, or both (the API's default)",
    ),
    Choice("with_name", BOOL, description="add `name` (one snapshot call per emailing)"),
    Choice(
        "with_hyperlinkextensions",
        BOOL,
        description="add `hyperlinkextensions` (UTM settings; one call per emailing)",
    ),
)
_EMAILING_ENRICH = (
    Enrich(Column("name", "str"), "{product}/emailing/{id}/snapshot", "name", "with_name"),
    Enrich(
        Column("hyperlinkextensions", "json"),
        "{product}/emailing/{id}/hyperlinkextensions",
        option="with_hyperlinkextensions",
    ),
)
_UNIQUE = (
    Choice(
        "unique",
        BOOL,
        param="unique",
        products=("draganddrop",),
        description="only the first event per destination (and link)",
    ),
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
        kind="profiles",
        columns=_cols(columns),
        discovery=Discovery(f"{owner}/{{{option}}}/fields"),
    )


def _entries() -> list[Dataset]:
    entries = [
        Dataset(
            name="databases",
            kind="structure",
            description="Databases of the account",
            path="databases",
            columns=_cols("id:int name description archived:bool created:timestamp"),
        ),
        Dataset(
            name="database_fields",
            kind="structure",
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
            kind="structure",
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
            columns=_PROFILE_COLUMNS,
        ),
        _modified_records(
            "subprofiles",
            "Subprofiles modified in the interval (with the collection's own fields)",
            owner="collection",
            records="subprofiles",
            columns=_SUBPROFILE_COLUMNS,
        ),
        Dataset(
            name="emailings",
            kind="emailings",
            description="Emailings sent in the interval",
            path="{product}/emailings",
            product=True,
            window_params="fromdate_todate",
            timestamp_field="timestamp",
            interval_filter="emailing timestamp in interval",
            choices=_EMAILING_CHOICES,
            enrich=_EMAILING_ENRICH,
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
            kind="statistics",
            description="Per emailing with events in the interval: their statistics",
            path="{product}/emailing/{id}/statistics",
            product=True,
            plan="event_fan_out",
            paging="unpaged",
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
            kind="emailings",
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
            kind="other",
            description="Account consumption, one row per local day ending in the interval",
            path="consumption",
            plan="per_day",
            paging="unpaged",
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
                kind="events",
                description=f"{description} in the interval",
                path="{product}/" + event,
                product=True,
                window_params=_EVENT_WINDOW,
                timestamp_field="timestamp",
                interval_filter="event timestamp in interval",
                choices=_UNIQUE if event in ("clicks", "unsubscribes") else (),
                columns={
                    "draganddrop": _cols(f"{_DD_EVENT} {dd_extra}"),
                    "html": _cols(f"{_HTML_EVENT} {html_extra}"),
                },
            )
        )
    entries += _coverage_entries()
    # --- coverage: logfiles and the generic endpoint ---
    entries.append(
        Dataset(
            name="logfile_events",
            description="Rows of Copernica's daily logfiles (option log_type) in the interval",
            path="logfile/{name}/json",
            required_options=("log_type",),
            product=True,
            option_checks=MappingProxyType({"log_type": logfiles.check_log_type}),
            configure=logfiles.configure,
            plan="logfiles",
            paging="logfile",
            window_params=WindowParams(None, None),  # the plan picks the days' files
            timestamp_field="time",
            interval_filter="logfiles of the local days the interval touches, rows by time",
            columns=logfiles.columns_of("cdm-click"),
            survey_keys=True,
            kind="logfiles",
        )
    )
    entries.append(
        Dataset(
            name="endpoint",
            description="Any GET endpoint of the API version (options: path, key, columns, "
            "timestamp_field, window_params or begin_param/end_param)",
            path="{path}",
            required_options=("path",),
            optional_options=endpoint.OPTIONAL,
            option_checks=MappingProxyType(endpoint.OPTION_CHECKS),
            configure=endpoint.configure,
            columns=(),
            infer_columns=True,
            kind="other",
        )
    )
    # --- faithful copy: lifetime statistics ---
    entries.append(
        Dataset(
            name="emailing_lifetime_statistics",
            kind="statistics",
            description="Emailings sent in the interval, with their statistics as of the run",
            path="{product}/emailing/{id}/statistics",
            product=True,
            plan="fan_out",
            paging="unpaged",
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
    entries += _faithful_copy_entries()
    return entries


# --- faithful copy: snapshots, ids, deletions ---
_DELETION_COLUMNS = (
    "id:int observed_at:timestamp last_seen_at:timestamp interval_start:timestamp "
    "interval_end:timestamp"
)


def _faithful_copy_entries() -> list[Dataset]:
    """Current-state snapshots, id snapshots and the deletions found by comparing the id
    snapshots of consecutive runs (docs/faithful-copy.md)."""
    entries: list[Dataset] = []
    for records, kind, owner, columns in (
        ("profiles", "profile", "database", _PROFILE_COLUMNS),
        ("subprofiles", "subprofile", "collection", _SUBPROFILE_COLUMNS),
    ):
        option = f"{owner}_id"
        snapshot = _modified_records(
            f"{records}_snapshot",
            f"Every live {kind} of the {owner} as of the run (same columns as {records})",
            owner=owner,
            records=records,
            columns=columns,
        )
        entries.append(
            replace(
                snapshot,
                window_params=None,
                timestamp_field=None,
                interval_filter="snapshot: every live record as of the run",
            )
        )
        entries.append(
            Dataset(
                name=f"{kind}_ids",
                kind="profiles",
                description=f"The ids of the {owner}'s live {records} as of the run",
                path=f"{owner}/{{{option}}}/{kind}ids",
                required_options=(option,),
                paging="id_array",
                interval_filter="snapshot: every live id as of the run",
                columns=_cols("id:int"),
            )
        )
        entries.append(
            Dataset(
                name=f"{kind}_deletions",
                kind="profiles",
                description=f"{records.capitalize()} gone since the previous run's id snapshot",
                path=f"{owner}/{{{option}}}/{kind}ids",
                required_options=(option,),
                paging="id_array",
                interval_filter="ids in the previous run's id snapshot and absent now",
                columns=_cols(_DELETION_COLUMNS),
                deletions_of=f"{kind}_ids",
            )
        )
    return entries


# --- coverage: selections, interests, templates, scheduled, coupons ---
_SELECTION = (
    "id:int name description parent-type parent-id:int has-children:bool has-referred:bool "
    "has-rules:bool last-built:timestamp intentions:json"
)
_RULES = Column("rules", "json")
"""A selection's rules (``view/{id}/rules``): one call per selection."""
_TEMPLATE_METRICS = (
    "destinations:int deliveries.total:int errors.total:int impressions.total:int "
    "impressions.unique:int clicks.total:int clicks.unique:int unsubscribes.total:int "
    "unsubscribes.unique:int abuses.total:int retries.total:int"
)
_DOCUMENT_METRICS = (
    "clicks.total:int clicks.unique:int impressions.total:int impressions.unique:int "
    "errors.total:int errors.unique:int unsubscribes.total:int unsubscribes.unique:int "
    "abuses.total:int abuses.unique:int unknown.total:int"
)
_ANY_EVENT = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
_SCHEDULED = {
    "draganddrop": _cols(
        "id:int start:timestamp rrule template:int next:timestamp previous:timestamp subject "
        "from_address.name from_address.email type target.type target.sources:json"
    ),
    "html": _cols(
        "id:int next:timestamp previous:timestamp interval.count:int interval.unit "
        "iterations:int processed_iterations:int scheduled_iterations:int document:int "
        "template:int subject from_address.name from_address.email testgroups:int "
        "emailing_type contenttype target.type target.sources:json"
    ),
}


# The template/document lists filter by time, but their records carry no time to check an
# interval against: the API's local-time filter is trusted (its bounds taken as inclusive,
# like begintime/endtime; not documented), one call per 1,000.
_CREATED_IN_INTERVAL = Choice(
    "created_in_interval",
    BOOL,
    products=("draganddrop",),
    description="created in interval (created_after/created_before)",
    window=WindowParams("created_after", "created_before"),
)
_MODIFIED_IN_INTERVAL = Choice(
    "modified_in_interval",
    BOOL,
    products=("html",),
    description="modified in interval (modifiedfromdate/modifiedtodate)",
    window=WindowParams("modifiedfromdate", "modifiedtodate"),
)


def _statistics(name: str, what: str, product: str, metrics: str) -> Dataset:
    """Per template/document with events in the interval: its statistics (begintime/endtime),
    one call per template/document after one list call."""
    return Dataset(
        name=f"{what}_statistics",
        kind="statistics",
        description=f"Per {what} with events in the interval: its statistics",
        path=f"{{product}}/{what}/{{id}}/statistics",
        product=True,
        products=(product,),
        plan="fan_out",
        paging="unpaged",
        window_params="begintime_endtime",
        interval_filter="statistics of events in interval (begintime/endtime)",
        fan_out=FanOut(
            list_path=f"{{product}}/{name}",
            item_path=f"{{product}}/{what}/{{id}}/statistics",
            require_any=_ANY_EVENT,
        ),
        columns=_cols("id:int " + metrics),
    )


def _coverage_entries() -> list[Dataset]:
    return [
        Dataset(
            name="views",
            kind="selections",
            description="Selections (views) of a database, nested ones included, with rules",
            path="database/{database_id}/views",
            required_options=("database_id",),
            plan="nested",
            nested=Nested("view/{id}/views"),
            columns=_cols(_SELECTION + " database:int"),
            enrich=(Enrich(_RULES, "view/{id}/rules"),),
        ),
        Dataset(
            name="miniviews",
            kind="selections",
            description="Miniselections (miniviews) of a collection, with rules",
            path="collection/{collection_id}/miniviews",
            required_options=("collection_id",),
            columns=_cols(
                "id:int name description parent-type parent-id:int last-built:timestamp "
                "intentions:json collection:int"
            ),
            enrich=(Enrich(_RULES, "miniview/{id}/rules"),),
        ),
        Dataset(
            name="view_profiles",
            kind="selections",
            description="Profiles in a selection (with the database's own fields)",
            path="view/{view_id}/profiles",
            required_options=("view_id",),
            paging="keyset",
            columns=_cols(
                "id:int database:int secret created:timestamp modified:timestamp "
                "removed:timestamp interests:list"
            ),
            discovery=Discovery(
                "database/{owner}/fields", lookup="view/{view_id}", lookup_field="database"
            ),
        ),
        Dataset(
            name="view_profile_ids",
            kind="selections",
            description="Ids of the profiles in a selection",
            path="view/{view_id}/profileids",
            required_options=("view_id",),
            paging="id_array",
            columns=_cols("id:int"),
        ),
        Dataset(
            name="miniview_subprofiles",
            kind="selections",
            description="Subprofiles in a miniselection (with the collection's own fields)",
            path="miniview/{miniview_id}/subprofiles",
            required_options=("miniview_id",),
            paging="keyset",
            columns=_cols(
                "id:int profile:int collection:int secret created:timestamp "
                "modified:timestamp removed:timestamp"
            ),
            discovery=Discovery(
                "collection/{owner}/fields",
                lookup="miniview/{miniview_id}",
                lookup_field="collection",
            ),
        ),
        Dataset(
            name="interests",
            kind="structure",
            description="Interests of a database",
            path="database/{database_id}/interests",
            required_options=("database_id",),
            columns=_cols("id:int name group"),
        ),
        Dataset(
            name="templates",
            kind="emailings",
            description="Emailing templates",
            path="{product}/templates",
            product=True,
            choices=(_CREATED_IN_INTERVAL, _MODIFIED_IN_INTERVAL),
            columns={
                "draganddrop": _cols(
                    "id:int name from_address.name from_address.email subject type "
                    "archived:bool directory:int"
                ),
                "html": _cols("id:int name archived:bool"),
            },
        ),
        Dataset(
            name="documents",
            kind="emailings",
            description="Emailing documents (HTML), without their HTML source",
            path="{product}/documents",
            product=True,
            products=("html",),
            choices=(_MODIFIED_IN_INTERVAL,),
            extra_params=(("source", "false"),),
            columns=_cols("id:int template:int name from_address subject archived:bool"),
        ),
        _statistics("templates", "template", "draganddrop", _TEMPLATE_METRICS),
        _statistics("documents", "document", "html", _DOCUMENT_METRICS),
        Dataset(
            name="scheduled_emailings",
            kind="emailings",
            description="Scheduled (and repeating) emailings",
            path="{product}/scheduledemailings",
            product=True,
            columns=_SCHEDULED,
        ),
        Dataset(
            name="coupon_campaigns",
            kind="other",
            description="Coupon campaigns",
            path="couponcampaigns",
            columns=_cols(
                "id:int name code description archived:bool available:int sent:int "
                "redeemed:int tags:list"
            ),
        ),
        Dataset(
            name="coupons",
            kind="other",
            description="Coupons of a coupon campaign",
            path="couponcampaign/{couponcampaign_id}/coupons",
            required_options=("couponcampaign_id",),
            columns=_cols("id:int code validfrom:timestamp validuntil:timestamp status"),
        ),
    ]


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
    result = tuple(cast("Iterable[str]", names))
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
            kind = OPTION_TYPES.get(name)
            check = dataset.option_checks.get(name)
            hint = f" ({kind}), e.g. dataset_options={{{name!r}: 7616}}" if kind else ""
            if check is not None and check.__doc__:
                hint = f": {check.__doc__.strip()}"
            raise CopernicaConfigError(f"Dataset {dataset.name!r} needs option {name!r}{hint}")
        result[name] = _check_option(dataset, name, given[name])
    for name in dataset.optional_options:
        if given.get(name) not in (None, ""):
            result[name] = _check_option(dataset, name, given[name])
    product = None
    if dataset.product:
        product = given.get("product") or dataset.products[0]
        if product not in dataset.products:
            raise CopernicaConfigError(
                f"Unknown product {product!r} for dataset {dataset.name!r}; "
                f"valid products: {', '.join(dataset.products)}"
            )
        result["product"] = product
    for choice in dataset.choices:
        value = given.get(choice.name)
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, (bool, str)) else repr(value)
        if text not in choice.values:
            raise CopernicaConfigError(
                f"Option {choice.name!r} of dataset {dataset.name!r} must be one of "
                f"{', '.join(choice.values)}, got {value!r}"
            )
        if product is not None and product not in choice.products:
            raise CopernicaConfigError(
                f"Option {choice.name!r} of dataset {dataset.name!r} applies to product "
                f"{', '.join(choice.products)} only, not {product!r}"
            )
        result[choice.name] = text
    return result


def _check_option(dataset: Dataset, name: str, value: object) -> object:
    check = dataset.option_checks.get(name)
    return _positive_int(name, value) if check is None else check(dataset.name, value)


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
