"""Storage libraries' exceptions as ``DataAccessError``'s reasons, and keeping secrets out.

``classify`` reads an exception's chain (botocore, azure-core, aiohttp, SMB and OS errors) as
'auth', 'missing' (container or bucket), 'unreachable' or 'other', the reasons a
``DataAccessError`` gives; ``redact`` and ``redact_url`` take credentials out of messages and
URLs.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

__all__ = ["classify", "first_line", "redact", "redact_url"]

_AUTH_CODES = {
    "AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo", "NoAuthenticationInformation", "InvalidAccessKeyId",
    "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "AllAccessDisabled",
}
_MISSING_CODES = {"ContainerNotFound", "NoSuchBucket", "FilesystemNotFound", "ShareNotFound"}
_UNREACHABLE_TYPES = {
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ServiceRequestError",
    "ServiceResponseError", "ClientConnectorError", "ServerTimeoutError", "ConnectionClosedError",
    "ClientConnectionError", "ServerDisconnectedError",
}
_AUTH_TYPES = {"LogonFailure", "AccessDenied", "ClientAuthenticationError"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 10:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def classify(exc: BaseException) -> str:
    """'auth', 'missing' (container/bucket), 'unreachable' or 'other'."""
    for e in _chain(exc):
        code, status = _code_and_status(e)
        names = {t.__name__ for t in type(e).__mro__}
        if code in _MISSING_CODES or "specified bucket does not exist" in str(e):
            return "missing"
        if (code in _AUTH_CODES or status in (401, 403) or isinstance(e, PermissionError)
                or names & _AUTH_TYPES):
            return "auth"
        if (names & _UNREACHABLE_TYPES or isinstance(e, (ConnectionError, TimeoutError,
                                                         socket.gaierror))
                or (isinstance(e, ValueError) and "Failed to connect" in str(e))):
            return "unreachable"
    return "other"


def _code_and_status(e: BaseException) -> tuple[str | None, int | None]:
    response = getattr(e, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        code = (response.get("Error") or {}).get("Code")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return code, status
    code = getattr(e, "error_code", None)  # azure-core's HttpResponseError
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    return (str(code) if code else None), (status if isinstance(status, int) else None)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets`` nor SAS signatures and account keys."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return re.sub(r"(sig|AccountKey|SharedAccessSignature)=[^;&\s]+", r"\1=***", text)


def redact_url(url: str) -> str:
    """``url`` without user info nor query (where credentials and SAS tokens live)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] if parts.scheme in ("http", "https") else parts.netloc
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
