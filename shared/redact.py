"""Log lines without secrets that URLs carry: the user-info (``user:password@``) and the query string of every
URL in a formatted record, its exception text included, are replaced before the line is written."""

from __future__ import annotations

import logging
import re

_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^\s/@?#]*@)?(?P<rest>[^\s?#]*)(?P<query>\?[^\s#]*)?")


def _redact_one(match: re.Match) -> str:
    userinfo = "***@" if match.group("userinfo") else ""
    query = "?***" if match.group("query") else ""
    return f"{match.group('scheme')}{userinfo}{match.group('rest')}{query}"


def redact_urls(text: str) -> str:
    """``text`` with each URL's user-info and query string replaced by ``***``."""
    return _URL.sub(_redact_one, text) if "://" in text else text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output (message, arguments and traceback) has URLs redacted by :func:`redact_urls`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_urls(super().format(record))
