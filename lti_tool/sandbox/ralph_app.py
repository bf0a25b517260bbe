"""Ralph's LRS app with its filesystem backend made usable: Ralph 5.1.0's FS backend opens
its statements file in "create" mode, so every POST after the first fails ("file already
exists"); appending is what an LRS on one file needs. Must run before ralph.api.app is
imported (it builds the backend at import time). Development and tests only."""

from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

from ralph.api import app  # noqa: E402

__all__ = ["app"]
