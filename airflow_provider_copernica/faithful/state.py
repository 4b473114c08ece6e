"""State a faithful copy keeps beside its output, in the user's own storage.

The operator's ``state_uri`` (default: ``_copernica_state/`` in the output file's directory)
holds the id snapshots of the deletions datasets and the pinned column sets of
``schema_policy="pin"``/``"fail"``. Nothing is kept on a worker's local disk: every worker
(and every re-run) reads the same files, through the same ``ObjectStoragePath``/fsspec
storage and connection as the output. Each file is written atomically, through the
output's :class:`~airflow_provider_copernica.output.writers.Storage` layer
(:func:`~airflow_provider_copernica.output.writers.write_atomically`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.exceptions import CopernicaConfigError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

STATE_DIRECTORY = "_copernica_state"


def default_state_uri(output_uri: str) -> str:
    """``<directory of the output file>/_copernica_state``."""
    return f"{output_uri.rstrip('/').rsplit('/', 1)[0]}/{STATE_DIRECTORY}"


class StateStore:
    """Files under one state directory (``uri`` + the output's storage connection)."""

    def __init__(self, uri: str, conn_id: str | None = None) -> None:
        from airflow.sdk import ObjectStoragePath

        text = str(uri).strip()
        if not text:
            raise CopernicaConfigError("state_uri is empty; give a directory path or URI")
        if ".." in text.split("://", 1)[-1].replace("\\", "/").split("/"):
            raise CopernicaConfigError(f"state_uri {text!r} contains a '..' path segment")
        self.uri = text.rstrip("/")
        self.root: ObjectStoragePath = ObjectStoragePath(self.uri, conn_id=conn_id)
        self.conn_id = conn_id

    def path(self, *parts: str) -> ObjectStoragePath:
        return self.root.joinpath(*parts)

    def uri_of(self, *parts: str) -> str:
        return "/".join([self.uri, *parts])

    def names(self, *parts: str) -> list[str]:
        """File names in a state sub-directory (none when it does not exist yet)."""
        folder = self.path(*parts)
        if not folder.exists():
            return []
        return sorted(child.name for child in folder.iterdir() if child.is_file())

    def read_json(self, *parts: str) -> Any:
        path = self.path(*parts)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def write_json(self, value: Any, *parts: str) -> None:
        """Write one state file atomically, through the output's storage layer."""
        from airflow_provider_copernica.output.writers import write_atomically

        text = json.dumps(value, indent=1, sort_keys=True)
        write_atomically(self.uri_of(*parts), text.encode(), self.conn_id)
