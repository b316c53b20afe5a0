"""What `l2c run` and `l2c demo` print while the graph runs: the assets' own progress and
warnings, one line each, under the step they belong to.

Dagster's console logger prints every engine event and every stack trace; on a terminal that
buries the one sentence a person needs. The engine's events and failures stay in the run's event
log (the Dagster UI shows them in full); the CLI prints each failure once, in its summary.
"""

from __future__ import annotations

import io
import logging
import sys

from dagster import Field, logger

LOGGER_NAME = "l2c_terminal"
# Dagster's own notes about steps it does not run after a failure: the summary says it once.
_ENGINE_NOISE = ("Dependencies for step", "Skipping step")


class _AssetMessages(logging.Filter):
    """Keeps messages the pipeline's code logged; drops Dagster's engine events."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None)
        if meta is None:
            return True
        if meta.get("dagster_event") is not None:
            return False
        message = meta.get("orig_message") or ""
        return not message.startswith(_ENGINE_NOISE)


class _StepFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        where = meta.get("step_key") or (
            f"resource {meta['resource_name']}" if meta.get("resource_name") else "run"
        )
        message = meta.get("orig_message") or record.getMessage()
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        stamp = self.formatTime(record, "%H:%M:%S")
        return f"{stamp} {where}: {level}{message}"


@logger(
    {"log_level": Field(str, is_required=False, default_value="INFO")},
    description="One line per message the pipeline's assets log (no engine events, no stack "
    "traces); what `l2c run` prints on the terminal.",
)
def terminal_logger(init_context) -> logging.Logger:
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(init_context.logger_config["log_level"])
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_AssetMessages())
    handler.setFormatter(_StepFormatter())
    log.addHandler(handler)
    return log


# Control characters shown as \xNN (on the terminal, line breaks and tabs kept): text from an
# org or a file (an activity's name, a rep's) must never drive the terminal that prints it
# (ESC ]0;... sets its title, ESC [2J clears it, a carriage return writes over the line; l2c
# prints none itself).
_LINE_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_TERMINAL_CONTROL = {code: text for code, text in _LINE_CONTROL.items() if chr(code) not in "\n\t"}


def one_line(value, limit: int = 80) -> str:
    """A value from an org or a file as a line lists it: cut when long, every control character
    (line breaks too) escaped."""
    text = str(value)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text):,} characters)"
    return text.translate(_LINE_CONTROL)


class PrintableStream(io.TextIOBase):
    """A text stream that writes to `stream` with control characters escaped."""

    def __init__(self, stream) -> None:
        self._stream = stream

    @property
    def encoding(self) -> str:
        return self._stream.encoding

    @property
    def errors(self) -> str | None:
        return self._stream.errors

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def write(self, text: str) -> int:
        self._stream.write(text.translate(_TERMINAL_CONTROL))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def print_only_printable() -> None:
    """Everything the process prints from here on (click, logging, print) goes through
    PrintableStream."""
    if not isinstance(sys.stdout, PrintableStream):
        sys.stdout = PrintableStream(sys.stdout)
    if not isinstance(sys.stderr, PrintableStream):
        sys.stderr = PrintableStream(sys.stderr)
