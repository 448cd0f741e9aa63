"""Where the service's logs go.

- ``attnserve.access``: one JSON object per line on stdout, nothing else on the line, so the
  stream can be fed to a log shipper or ``jq`` as it is. uvicorn's own plain-text access lines
  are switched off: this log carries the same facts (and the route template, time and pid).
- everything else (model loading, batch failures, uvicorn's start and stop): ``LEVEL:logger:text``
  on stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

ACCESS = "attnserve.access"


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stdout`` as it is at each record (so a redirected stdout is followed)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging() -> None:
    """Idempotent: several apps in one process (tests) share one access handler."""
    logging.basicConfig(level=logging.INFO)
    access = logging.getLogger(ACCESS)
    access.setLevel(logging.INFO)
    if not any(isinstance(h, _StdoutHandler) for h in access.handlers):
        handler = _StdoutHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.propagate = False  # the root handler would prefix "INFO:attnserve.access:"
    logging.getLogger("uvicorn.access").disabled = True
