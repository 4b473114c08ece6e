"""A partitioned set's manifest: written last and atomically, the reader's only way in.

The parts of a partitioned extraction (``part-00003-of-00008.jsonl``) are complete as a set
only once ``_manifest.json`` lists them with their sizes and checksums
(:class:`~airflow_provider_copernica.operators.partitioned.CopernicaManifestOperator` writes
it). :func:`read_manifest` is the reader's rule: no manifest, no set.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaError
from airflow_provider_copernica.output.writers import FORMATS

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 1
PART_NAME = re.compile(r"^part-(\d{5})-of-(\d{5})\.[a-z]+$")
_CHUNK = 1 << 20


def part_name(index: int, count: int, file_format: str) -> str:
    """``part-00003-of-00008.jsonl``: zero-based index, the set's size, the format's
    extension. A set of another size never shares a name with this one."""
    return f"part-{index:05d}-of-{count:05d}{FORMATS[file_format].extension}"


def join_uri(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def manifest_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode()


def _open(uri: str, conn_id: str | None) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(uri, conn_id=conn_id).open("rb")


def file_digest(uri: str, conn_id: str | None = None) -> tuple[int, str]:
    """``(bytes, sha256 hex)`` of one stored file, read once in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with _open(uri, conn_id) as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def read_manifest(
    directory: str, conn_id: str | None = None, *, verify: bool = True
) -> dict[str, Any]:
    """The complete set in ``directory``: its manifest, with each listed part checked.

    The reader's rule: no ``_manifest.json``, no set (being written, or a part failed); take
    exactly the listed ``parts[*].uri``, never a directory listing; with ``verify`` each part
    must have the listed size and sha256 (else a re-run is replacing the set: read again
    later). Raises :class:`CopernicaError` when the set is not complete."""
    uri = join_uri(directory, MANIFEST_NAME)
    try:
        with _open(uri, conn_id) as file:
            document: dict[str, Any] = json.loads(file.read())
    except FileNotFoundError:
        raise CopernicaError(
            f"No {MANIFEST_NAME} in {directory}: the set is not complete"
        ) from None
    for part in document["parts"] if verify else ():
        try:
            size, digest = file_digest(part["uri"], conn_id)
        except FileNotFoundError:
            raise CopernicaError(f"{part['uri']} listed in {uri} is missing") from None
        if (size, digest) != (part["bytes"], part["sha256"]):
            raise CopernicaError(
                f"{part['uri']} differs from {uri} (a re-run is replacing the set): read later"
            )
    return document
