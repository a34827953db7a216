"""Which content types a JSON body may come with.

Why strict: the old test, "the content type contains ``json``", took ``text/json-ish`` and
``application/jsonx`` for JSON, and ignored ``charset``: a body declared ``latin-1`` was read
as UTF-8, and its first accented letter made a 400 that blamed the JSON, not the charset.
JSON exchanged between systems is UTF-8 (RFC 8259), so a body declared in another charset is
refused as one the service does not read (415), saying so. Accepted: ``application/json``
and the structured-syntax ``application/<name>+json`` (RFC 6839), in any case, with any
other parameters.
"""

from __future__ import annotations

import re

#: ``application/json`` and ``application/<name>+json`` (RFC 6838's restricted-name characters).
_JSON_TYPE = re.compile(r"application/(?:[a-z0-9][a-z0-9!#$&^_.+-]*\+)?json")

#: The charsets a JSON body may declare: UTF-8 under either spelling, and ASCII, whose
#: bytes are UTF-8's (a client library that declares it sends what the service reads).
_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")


def json_type_problem(ctype: str) -> str | None:
    """Why a request whose ``Content-Type`` is ``ctype`` is no JSON body this service reads
    (the message of its 415), or None when it is one.

    >>> json_type_problem('Application/Problem+JSON; Charset="UTF-8"') is None
    True
    >>> json_type_problem("application/jsonx")
    'send JSON (content-type application/json), not application/jsonx'
    >>> json_type_problem("application/json; charset=US-ASCII") is None
    True
    >>> json_type_problem("application/json; charset=latin-1")
    'content-type charset "latin-1": bodies must be UTF-8 (send charset=utf-8, or none)'
    """
    media_type, *params = ctype.split(";")
    if not _JSON_TYPE.fullmatch(media_type.strip().lower()):
        return f"send JSON (content-type application/json), not {ctype}"
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or key.strip().lower() != "charset":
            continue
        charset = value.strip()
        if len(charset) >= 2 and charset[0] == charset[-1] == '"':
            charset = charset[1:-1]
        if charset.lower() not in _UTF8:
            return (
                f'content-type charset "{charset[:40]}": bodies must be UTF-8'
                " (send charset=utf-8, or none)"
            )
    return None
