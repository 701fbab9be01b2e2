"""Log redaction: records from any logger are redacted before a handler sees them."""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Iterator

import pytest

from autopack.providers.registry import DEFAULT_REDACTOR
from autopack.services.redaction_logging import (
    RedactingFilter,
    RedactorSource,
    install_log_redaction,
    redact_record,
)

SECRET = "stored-refresh-token-0123456789"
OTHER = "rotated-refresh-token-9876543210"


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    """A handler on the root logger, formatting like a real deployment would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_child_logger_args_exception_and_extra_are_redacted(capture: io.StringIO) -> None:
    handle = install_log_redaction(DEFAULT_REDACTOR.with_secrets([SECRET]))
    try:
        log = logging.getLogger("autopack.services.credentials.test")
        log.info("refreshed with %s for %s", SECRET, "shop-1", extra={"token": SECRET})
        log.warning("request headers: Authorization: Bearer %s", "abc123def456ghi")
        try:
            raise RuntimeError(f"provider said invalid_grant for {SECRET}")
        except RuntimeError:
            log.exception("refresh failed")
    finally:
        handle.uninstall()
    text = capture.getvalue()
    assert SECRET not in text
    assert "abc123def456ghi" not in text
    assert "refreshed with [REDACTED:known-secret] for shop-1" in text
    assert "Authorization: [REDACTED:secret-header]" in text
    assert "RuntimeError: provider said invalid_grant for [REDACTED:known-secret]" in text
    assert "Traceback" in text


def test_extra_values_are_redacted_as_data(capture: io.StringIO) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    handle = install_log_redaction(DEFAULT_REDACTOR.with_secrets([SECRET]))
    try:
        logging.getLogger("autopack.x").info(
            "done", extra={"response": {"access_token": "opaque", "note": SECRET}, "n": 3}
        )
    finally:
        handle.uninstall()
        logging.getLogger().removeHandler(keep)
    (record,) = records
    assert record.response == {  # type: ignore[attr-defined]
        "access_token": "[REDACTED:secret-field]",
        "note": "[REDACTED:known-secret]",
    }
    assert record.n == 3  # type: ignore[attr-defined]


def test_swapping_the_redactor_takes_effect_without_reinstalling(capture: io.StringIO) -> None:
    handle = install_log_redaction(DEFAULT_REDACTOR.with_secrets([SECRET]))
    try:
        log = logging.getLogger("autopack.swap")
        log.info("new token %s", OTHER)
        handle.set_redactor(DEFAULT_REDACTOR.with_secrets([SECRET, OTHER]))
        log.info("new token %s", OTHER)
    finally:
        handle.uninstall()
    lines = capture.getvalue().splitlines()
    assert lines[0].endswith(f"new token {OTHER}")
    assert lines[1].endswith("new token [REDACTED:known-secret]")


def test_uninstall_restores_the_record_factory(capture: io.StringIO) -> None:
    before = logging.getLogRecordFactory()
    handle = install_log_redaction(DEFAULT_REDACTOR.with_secrets([SECRET]))
    assert logging.getLogRecordFactory() is not before
    handle.uninstall()
    assert logging.getLogRecordFactory() is before
    assert not any(
        isinstance(f, RedactingFilter) for h in logging.getLogger().handlers for f in h.filters
    )
    logging.getLogger("autopack.after").info("plain %s", SECRET)
    assert SECRET in capture.getvalue()


def test_filter_redacts_records_made_by_hand() -> None:
    # Records passed straight to Handler.handle skip the factory; the filter
    # on the handler still redacts them.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(DEFAULT_REDACTOR.with_secrets([SECRET])))
    record = logging.makeLogRecord({"msg": "token %s", "args": (SECRET,), "levelno": 20})
    handler.handle(record)
    assert stream.getvalue() == "token [REDACTED:known-secret]\n"


def test_bad_format_string_still_redacted() -> None:
    record = logging.makeLogRecord({"msg": "token %s %s", "args": (SECRET,)})
    redact_record(record, DEFAULT_REDACTOR.with_secrets([SECRET]))
    assert SECRET not in record.getMessage()


def test_redacted_record_pickles_without_secret_material() -> None:
    red = DEFAULT_REDACTOR.with_secrets([SECRET])
    record = logging.makeLogRecord({"msg": "token %s", "args": (SECRET,)})
    redact_record(record, red)
    data = pickle.dumps(record)
    assert SECRET.encode() not in data
    redact_record(record, red)  # marked: second call is a no-op
    assert record.getMessage() == "token [REDACTED:known-secret]"


def test_source_defaults_to_pattern_rules() -> None:
    source = RedactorSource()
    assert source.redactor.redact_text("password=hunter2") == (
        "password=[REDACTED:secret-assignment]"
    )


def test_args_keep_their_shape_for_formatters_that_unpack_them() -> None:
    """uvicorn's access formatter unpacks ``record.args`` as a 5-tuple: redaction
    must keep args a tuple of the same length (it used to set them to None)."""
    from uvicorn.logging import AccessFormatter

    record = logging.makeLogRecord(
        {
            "name": "uvicorn.access",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": '%s - "%s %s HTTP/%s" %d',
            "args": ("127.0.0.1:5000", "GET", f"/api/actions/{SECRET}", "1.1", 404),
        }
    )
    redact_record(record, DEFAULT_REDACTOR.with_secrets([SECRET]))
    assert isinstance(record.args, tuple)
    assert len(record.args) == 5
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert SECRET not in line
    assert line.startswith("127.0.0.1:5000 GET /api/actions/[REDACTED:known-secret] HTTP/1.1 404")


def test_context_rules_on_the_merged_message_keep_args_and_percent_signs() -> None:
    # The bearer rule needs the text around the argument; the merged message is
    # redacted and still consumes the (tuple) args.
    record = logging.makeLogRecord(
        {"msg": "100%% sure: Authorization: Bearer %s (%d tries)", "args": ("abc123def456ghi", 3)}
    )
    redact_record(record, DEFAULT_REDACTOR)
    assert isinstance(record.args, tuple)
    assert len(record.args) == 2
    assert record.getMessage() == DEFAULT_REDACTOR.redact_text(
        "100% sure: Authorization: Bearer abc123def456ghi (3 tries)"
    )
    assert "abc123def456ghi" not in record.getMessage()
    assert record.getMessage().startswith("100% sure: Authorization: [REDACTED")


def test_mapping_args_stay_a_mapping() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, "x", 1, "token %(token)s", ({"token": SECRET},), None
    )
    redact_record(record, DEFAULT_REDACTOR.with_secrets([SECRET]))
    assert record.args == {"token": "[REDACTED:known-secret]"}
    assert record.getMessage() == "token [REDACTED:known-secret]"
