"""Log redaction: every log record passes through the redaction library.

Two hooks, because logging has two places a record can escape from:

- a **record factory** (installed by :func:`install_log_redaction`) redacts each
  record when it is created, whichever logger created it; a filter on a logger
  would miss records from its child loggers, which propagate without running the
  parent's filters;
- a :class:`RedactingFilter` on the existing handlers of the root and
  ``autopack`` loggers, for records built by hand (``Logger.handle``) and for
  ``extra=`` values, which logging attaches after the factory has run. Handlers
  added later (dictConfig) should list the filter themselves.

The redactor is read through a :class:`RedactorSource`; the API and the worker
install a :class:`LiveRedactorSource` over ``Runtime.log_redactor``, so secrets
stored or seen after installation are masked without reinstalling anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from autopack.domain.redaction import Redactor
from autopack.providers.registry import DEFAULT_REDACTOR

# Attributes every LogRecord has; anything else on a record came from `extra=`
# and is redacted as data.
_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "_autopack_redacted"}


class RedactorSource:
    """Holds the current redactor; replacing it is one atomic reference swap."""

    def __init__(self, redactor: Redactor = DEFAULT_REDACTOR) -> None:
        self._redactor = redactor

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def set(self, redactor: Redactor) -> None:
        self._redactor = redactor


class LiveRedactorSource(RedactorSource):
    """Asks ``get`` for the redactor on every record, e.g. ``Runtime.redactor`` (cached),
    so secrets stored after the filter was installed are masked too."""

    def __init__(self, get: Callable[[], Redactor]) -> None:
        super().__init__()
        self._get = get

    @property
    def redactor(self) -> Redactor:
        return self._get()


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Redact a record in place: message with its args merged, exception and
    stack text, and values passed through ``extra=``. Idempotent."""
    # The mark is the redactor's id, not the redactor: records may be pickled
    # (QueueHandler, SocketHandler) and a redactor holds the secrets it masks.
    if getattr(record, "_autopack_redacted", None) != id(redactor):
        _redact_message(record, redactor)
        record._autopack_redacted = id(redactor)
    # Logger.makeRecord adds `extra=` values after the factory ran, so they are
    # redacted here on every pass (a no-op on already redacted values).
    for name, value in list(vars(record).items()):
        if name not in _STANDARD_ATTRS:
            setattr(record, name, redactor.redact_value(value))


def _redact_message(record: logging.LogRecord, redactor: Redactor) -> None:
    # logging's contract: ``args`` stays a tuple (or mapping) of the same shape,
    # because formatters may read it directly (uvicorn's access formatter unpacks
    # it as a 5-tuple). Each argument is redacted on its own; when the merged
    # message still needs redacting (a secret spanning text and argument, or a
    # rule that needs context such as "Bearer <token>"), ``msg`` becomes the
    # redacted message and consumes every argument without printing it.
    args, count = _redact_args(record.args, redactor)
    record.args = args
    broken = False
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format string must not stop redaction
        message, broken = f"{record.msg!s} {record.args!r}", True
    redacted = redactor.redact_text(message)
    if broken or redacted != message:
        # getMessage only applies ``%`` when there are args: escape only then.
        record.msg = redacted.replace("%", "%%") + _CONSUME_ONE * count if args else redacted
    if record.exc_info:
        # Formatters print exc_text when set; exc_info is dropped so no handler
        # formats the live exception (and its unredacted message) again.
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        record.exc_text = text
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redactor.redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact_text(record.stack_info)


# "%.0s" formats any value as the empty string: it uses up one positional argument.
_CONSUME_ONE: Final = "%.0s"
# Arguments printed by ``%d``/``%f`` must stay numbers; their text cannot hold a
# secret that the merged-message check would not see.
_KEEP_TYPES: Final = (int, float, Decimal, type(None))


def _redact_arg(value: object, redactor: Redactor) -> object:
    if isinstance(value, _KEEP_TYPES):
        return value
    if isinstance(value, str):
        return redactor.redact_text(value)
    text, shown = str(value), repr(value)
    if redactor.redact_text(text) == text and redactor.redact_text(shown) == shown:
        return value  # nothing to mask: keep the object, so %r still shows its repr
    return redactor.redact_text(text)


def _redact_args(args: object, redactor: Redactor) -> tuple[Any, int]:
    """Redacted ``args`` of the same shape, and how many positional arguments it holds."""
    if not args:
        return args, 0
    if isinstance(args, tuple):
        return tuple(_redact_arg(item, redactor) for item in args), len(args)
    if isinstance(args, Mapping):
        # A mapping is formatted by name: unused keys are fine, nothing to consume.
        return {key: _redact_arg(item, redactor) for key, item in args.items()}, 0
    return _redact_arg(args, redactor), 1


class RedactingFilter(logging.Filter):
    """A filter for handlers (dictConfig-friendly): redacts, never drops."""

    def __init__(self, source: RedactorSource | Redactor | None = None) -> None:
        super().__init__()
        if isinstance(source, Redactor):
            source = RedactorSource(source)
        self.source = source or RedactorSource()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.source.redactor)
        return True


class LogRedaction:
    """What :func:`install_log_redaction` installed; ``uninstall`` undoes it."""

    def __init__(
        self,
        source: RedactorSource,
        filter_: RedactingFilter,
        handlers: list[logging.Handler],
        previous_factory: Callable[..., logging.LogRecord],
        factory: Callable[..., logging.LogRecord],
    ) -> None:
        self.source = source
        self.filter = filter_
        self._handlers = handlers
        self._previous_factory = previous_factory
        self._factory = factory

    def set_redactor(self, redactor: Redactor) -> None:
        self.source.set(redactor)

    def uninstall(self) -> None:
        with _LOCK:
            for handler in self._handlers:
                handler.removeFilter(self.filter)
            # Only restore if nobody stacked another factory on top of ours.
            if logging.getLogRecordFactory() is self._factory:
                logging.setLogRecordFactory(self._previous_factory)


_LOCK = threading.Lock()


def install_log_redaction(
    redactor: Redactor | RedactorSource = DEFAULT_REDACTOR,
    *,
    loggers: Sequence[str] = ("", "autopack"),
) -> LogRedaction:
    """Redact every log record from now on; returns a handle to swap or remove."""
    source = redactor if isinstance(redactor, RedactorSource) else RedactorSource(redactor)
    filter_ = RedactingFilter(source)
    with _LOCK:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact_record(record, source.redactor)
            return record

        logging.setLogRecordFactory(factory)
        handlers: list[logging.Handler] = []
        for name in loggers:
            for handler in logging.getLogger(name).handlers:
                if filter_ not in handler.filters:
                    handler.addFilter(filter_)
                    handlers.append(handler)
    return LogRedaction(source, filter_, handlers, previous, factory)
