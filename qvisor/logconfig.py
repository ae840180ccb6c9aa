"""quark's log set-up: /etc/quark/config.json picks the level, one file gets the lines.

The log never goes to the terminal: a container's stdout/stderr belong to
the container, so quark's own messages there would corrupt its output.
Logging is also never a reason to fail: an unwritable log only disables it.
"""
from __future__ import annotations

import json
import logging
import os
import sys

CONFIG_PATH = "/etc/quark/config.json"
LOG_PATH = "/var/log/quark/quark.log"
LOGGER_NAME = "quark"

TRACE = 5   # below DEBUG: every syscall and exit, far too much for Debug
logging.addLevelName(TRACE, "TRACE")

# DebugLevel values as written in config.json; None means logging off.
LEVELS: dict[str, int | None] = {
    "Off": None,
    "Error": logging.ERROR,
    "Warn": logging.WARNING,
    "Info": logging.INFO,
    "Debug": logging.DEBUG,
    "Trace": TRACE,
}
DEFAULT_LEVEL = "Error"   # quiet unless asked: a log line per container start adds up

_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def _warn(msg: str) -> None:
    print(f"quark: warning: {msg}", file=sys.stderr)


def read_debug_level(path: str = CONFIG_PATH) -> str:
    """The DebugLevel of the config file; DEFAULT_LEVEL if the file is missing or bad."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return DEFAULT_LEVEL
    except OSError as err:
        _warn(f"{path}: cannot read: {err.strerror}; using DebugLevel {DEFAULT_LEVEL}")
        return DEFAULT_LEVEL
    try:
        doc = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as err:
        _warn(f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}; "
              f"using DebugLevel {DEFAULT_LEVEL}")
        return DEFAULT_LEVEL
    except (UnicodeDecodeError, RecursionError):
        _warn(f"{path}: not a JSON document; using DebugLevel {DEFAULT_LEVEL}")
        return DEFAULT_LEVEL
    if not isinstance(doc, dict):
        _warn(f"{path}: expected a JSON object; using DebugLevel {DEFAULT_LEVEL}")
        return DEFAULT_LEVEL
    value = doc.get("DebugLevel", DEFAULT_LEVEL)
    level = _canonical_level(value)
    if level is None:
        _warn(f"{path}: DebugLevel {value!r} is not one of {', '.join(LEVELS)}; "
              f"using {DEFAULT_LEVEL}")
        return DEFAULT_LEVEL
    return level


def _canonical_level(value: object) -> str | None:
    # Accept any case ("debug", "DEBUG"): people type it by hand.
    if not isinstance(value, str):
        return None
    for name in LEVELS:
        if name.lower() == value.strip().lower():
            return name
    return None


def _open_handler(log_path: str) -> logging.Handler:
    try:
        directory = os.path.dirname(log_path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        return logging.FileHandler(log_path, mode="a", encoding="utf-8")
    except OSError:
        # Not root, read-only /var, ...: run without a log rather than fail.
        return logging.NullHandler()


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with runc's (logrus's) keys: go-runc and
    containerd read "msg" of the "error" lines to tell the user why."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        when = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        doc = {"level": _JSON_LEVELS.get(record.levelno, record.levelname.lower()),
               "msg": record.getMessage(),
               "time": when.isoformat(timespec="microseconds").replace("+00:00", "Z")}
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc)


_JSON_LEVELS = {TRACE: "trace", logging.DEBUG: "debug", logging.INFO: "info",
                logging.WARNING: "warning", logging.ERROR: "error", logging.CRITICAL: "fatal"}


def setup_logging(level: str | None = None, log_path: str | None = None,
                  config_path: str = CONFIG_PATH, fmt: str = "text") -> logging.Logger:
    """Configure and return the "quark" logger.

    level overrides the config file's DebugLevel (the CLI's --debug);
    log_path overrides /var/log/quark/quark.log (the CLI's --log);
    fmt is "text" or "json" (the CLI's --log-format).
    Calling it again replaces the previous set-up.
    """
    name = _canonical_level(level) if level is not None else None
    if name is None:
        name = read_debug_level(config_path)
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    # Never let records reach the root logger, whose default handler is stderr.
    logger.propagate = False
    numeric = LEVELS[name]
    if numeric is None:
        logger.setLevel(logging.CRITICAL + 1)
        logger.addHandler(logging.NullHandler())
        return logger
    logger.setLevel(numeric)
    handler = _open_handler(log_path or LOG_PATH)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
