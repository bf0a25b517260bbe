"""Ralph's LRS app, made to act as the LRSs colleges run. Development and tests only.

- Its filesystem backend made usable: Ralph 5.1.0's FS backend opens its statements file
  in "create" mode, so every POST after the first fails ("file already exists");
  appending is what an LRS on one file needs. Must run before ralph.api.app is imported
  (it builds the backend at import time).
- ``version`` set on storage as xAPI 1.0.3 requires of an LRS (Data 2.4.10: a statement
  stored without one gets "1.0.0"), which Learning Locker and the colleges' LRSs do and
  Ralph 5.1.0 does not: statements read back must still follow our profile (issue 19).
"""

from typing import Any

from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

from ralph.api import app  # noqa: E402
from ralph.api.routers import statements as _router  # noqa: E402

STORED_VERSION = "1.0.0"
_enrich_timestamp = _router._enrich_statement_with_timestamp


def _enrich_timestamp_and_version(statement: dict[str, Any]) -> None:
    """Ralph's own enrichment (POST and PUT both call it), then the version."""
    _enrich_timestamp(statement)
    statement.setdefault("version", STORED_VERSION)


_router._enrich_statement_with_timestamp = _enrich_timestamp_and_version

__all__ = ["app"]
