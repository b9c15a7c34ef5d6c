"""Log lines never carry the secrets of URLs: user-info and query strings are redacted, in messages and tracebacks."""

from __future__ import annotations

import logging

from shared.redact import RedactingFormatter, redact_urls


def test_user_info_and_query_strings_of_every_url_are_redacted():
    line = "posting to https://bob:s3cret@hooks.example.com/a/b?token=abc&x=1 then http://10.0.0.1:8080/p failed"
    assert redact_urls(line) == "posting to https://***@hooks.example.com/a/b?*** then http://10.0.0.1:8080/p failed"
    assert redact_urls("no url here: a?b=c") == "no url here: a?b=c"


def test_the_formatter_redacts_arguments_and_exception_text():
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("Max retries exceeded with url: http://h.example/x?key=secret")
    except ValueError:
        record = logging.LogRecord("t", logging.WARNING, __file__, 1, "webhook %s failed", ("http://u:p@h.example/y?k=v",),
                                   exc_info=__import__("sys").exc_info())
    text = formatter.format(record)
    assert "secret" not in text and "u:p@" not in text and "k=v" not in text
    assert "http://***@h.example/y?***" in text
