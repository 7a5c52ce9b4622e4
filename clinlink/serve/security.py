"""Safe defaults: the API key check, the loopback test behind the start-up warning, the request body limit."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from fastapi import HTTPException, Request

KEY_HEADER = "X-API-Key"
# Browsers ask for Basic credentials (any user name, the key as password), so the page works behind a key too.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="clinlink", charset="UTF-8"'}
JSON_ESCAPE_BYTES = 6  # the most bytes one character of text takes in JSON ("\u001f")
BODY_OVERHEAD = 64 * 1024  # ids, field names and punctuation beside the note text


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches (127.0.0.0/8, ::1, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def presented_key(request: Request) -> str | None:
    """The key of an ``X-API-Key`` header, or of ``Authorization: Bearer KEY`` / ``Basic base64(user:KEY)``."""
    if key := request.headers.get(KEY_HEADER):
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def key_checker(api_key: str):
    """A FastAPI dependency answering 401 unless the request carries ``api_key``."""
    expected = api_key.encode("utf-8")

    def check(request: Request) -> None:
        key = presented_key(request)
        if key is None:
            raise HTTPException(401, f"missing API key: send it in the {KEY_HEADER} header", headers=CHALLENGE)
        if not hmac.compare_digest(key.encode("utf-8"), expected):
            raise HTTPException(401, "wrong API key", headers=CHALLENGE)

    return check


def body_limit(max_chars: int) -> int:
    """The most bytes a request body may have when its notes hold ``max_chars`` characters in all."""
    return JSON_ESCAPE_BYTES * max_chars + BODY_OVERHEAD


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request too large: {int(declared):,} bytes, more than {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request too large: more than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
