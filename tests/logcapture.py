"""The app's own logging setup, writing into a StringIO for a test, and everything put back afterwards.

Why not caplog: caplog sees records, not the handler's formatted lines, and redaction has to hold in
what is finally written (tracebacks included).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

from services import logsetup


@contextlib.contextmanager
def app_logging(**kwargs: Any) -> Iterator[io.StringIO]:
    """`setup_logging(**kwargs)` into a StringIO; restores root handlers, levels and record factory."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    names = [*logsetup.CHATTY_LOGGERS, *kwargs.get("debug_libraries", ())]
    saved_levels = {name: logging.getLogger(name).level for name in names}
    saved_factory = logging.getLogRecordFactory()
    saved_redactor = logsetup._current
    stream = io.StringIO()
    try:
        logsetup.setup_logging(stream=stream, **kwargs)
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        logging.setLogRecordFactory(saved_factory)
        logsetup._current = saved_redactor
