"""The catalog: contract names, declarative entries, option validation (no network)."""

from __future__ import annotations

import pytest

from airflow_provider_copernica.catalog.datasets import (
    DATASETS,
    METADATA_COLUMNS,
    get_dataset,
    validate_metadata,
    validate_options,
)
from airflow_provider_copernica.exceptions import CopernicaConfigError

CONTRACT = {
    "databases": ((), True, "id"),
    "database_fields": (("database_id",), True, "id"),
    "collections": (("database_id",), True, "id"),
    "profiles": (("database_id",), False, "id"),
    "subprofiles": (("collection_id",), False, "id"),
    "emailings": (
        ("product", "status", "test", "with_name", "with_hyperlinkextensions"),
        False,
        "id",
    ),
    "emailing_statistics": (("product",), False, "id"),
    "emailing_lifetime_statistics": (("product",), False, "id"),
    "deliveries": (("product",), False, "id"),
    "impressions": (("product",), False, "id"),
    "clicks": (("product", "unique"), False, "id"),
    "errors": (("product",), False, "id"),
    "unsubscribes": (("product", "unique"), False, "id"),
    "abuses": (("product",), False, "id"),
    "destinations": (("product",), False, "id"),
    "consumption": ((), False, "date"),
    # --- faithful copy: snapshots, ids, deletions ---
    "profiles_snapshot": (("database_id",), True, "id"),
    "subprofiles_snapshot": (("collection_id",), True, "id"),
    "profile_ids": (("database_id",), True, "id"),
    "subprofile_ids": (("collection_id",), True, "id"),
    "profile_deletions": (("database_id",), True, "id"),
    "subprofile_deletions": (("collection_id",), True, "id"),
    # coverage: selections, interests, templates, scheduled, coupons
    "views": (("database_id",), True, "id"),
    "miniviews": (("collection_id",), True, "id"),
    "view_profiles": (("view_id",), True, "id"),
    "view_profile_ids": (("view_id",), True, "id"),
    "miniview_subprofiles": (("miniview_id",), True, "id"),
    "interests": (("database_id",), True, "id"),
    # windowed by their modification (creation) time only with that option
    "templates": (("product", "created_in_interval", "modified_in_interval"), True, "id"),
    "documents": (("product", "modified_in_interval"), True, "id"),
    "template_statistics": (("product",), False, "id"),
    "document_statistics": (("product",), False, "id"),
    "scheduled_emailings": (("product",), True, "id"),
    "coupon_campaigns": ((), True, "id"),
    "coupons": (("couponcampaign_id",), True, "id"),
    "logfile_events": (("log_type", "product"), False, "id"),
    "endpoint": (
        ("path", "key", "columns", "timestamp_field", "window_params", "begin_param", "end_param"),
        True,  # until its options give a timestamp_field
        "id",
    ),
}


def test_catalog_has_exactly_the_contract_datasets() -> None:
    assert set(DATASETS) == set(CONTRACT)
    for name, (options, snapshot, key) in CONTRACT.items():
        entry = get_dataset(name)
        assert entry.option_names == options, name
        assert entry.snapshot is snapshot, name
        assert entry.key == key, name


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_entry_declares_its_key_first_for_every_product(name: str) -> None:
    entry = DATASETS[name]
    if entry.infer_columns:  # columns come from the first page (endpoint.infer_columns)
        assert entry.columns == ()
        return
    for product in ("draganddrop", "html") if entry.product else (None,):
        columns = entry.columns_for(product)
        assert columns[0].name == entry.key
        assert len({c.name for c in columns}) == len(columns)
        if entry.timestamp_field:
            assert entry.timestamp_field in {c.name for c in columns}
        if not entry.snapshot:
            assert entry.window_params_for(product) is not None


def test_products_filter_events_differently() -> None:
    clicks = get_dataset("clicks")
    assert clicks.window_params_for("draganddrop") == "begintime_endtime"
    assert clicks.window_params_for("html") == "fields_timestamp"
    assert get_dataset("profiles").paging == "keyset"
    assert get_dataset("emailing_statistics").fan_out is not None


def test_validate_options_normalises() -> None:
    assert validate_options(get_dataset("profiles"), {"database_id": "7616"}) == {
        "database_id": 7616
    }
    assert validate_options(get_dataset("clicks"), None) == {"product": "draganddrop"}
    assert validate_options(get_dataset("clicks"), {"product": "html"}) == {"product": "html"}


@pytest.mark.parametrize(
    "bad", ["1/../databases", "1&limit=5", "0", "-1", "1.5", " ", "٣", True, 2.0, None]
)
def test_ids_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(CopernicaConfigError, match="database_id"):
        validate_options(get_dataset("profiles"), {"database_id": bad})


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(CopernicaConfigError, match="valid datasets: abuses, clicks, collections"):
        get_dataset("click")
    with pytest.raises(CopernicaConfigError, match="valid options: collection_id"):
        validate_options(get_dataset("subprofiles"), {"collection_id": 1, "database_id": 2})
    with pytest.raises(CopernicaConfigError, match="must be a mapping"):
        validate_options(get_dataset("clicks"), ["product"])  # type: ignore[arg-type]
    with pytest.raises(CopernicaConfigError, match=", ".join(METADATA_COLUMNS)):
        validate_metadata(["_extracted"])
    assert validate_metadata("_run_id") == ("_run_id",)


def test_catalog_window_texts_name_the_windowing_options_and_a_snapshots_own_words() -> None:
    from airflow_provider_copernica.catalog.describe import window_text

    assert window_text(get_dataset("databases")) == "snapshot (as of the run)"
    documents = get_dataset("documents")
    assert window_text(documents) == (
        "snapshot (as of the run); modified_in_interval: modified in interval "
        "(modifiedfromdate/modifiedtodate)"
    )
    windowed = documents.configured(
        validate_options(documents, {"product": "html", "modified_in_interval": True})
    )
    assert not windowed.snapshot and windowed.timestamp_field is None
    assert window_text(windowed) == "modified in interval (modifiedfromdate/modifiedtodate)"
    off = documents.configured(validate_options(documents, {"modified_in_interval": "false"}))
    assert off.snapshot
    deletions = get_dataset("profile_deletions")
    assert window_text(deletions) == deletions.interval_filter != "snapshot (no filter)"
