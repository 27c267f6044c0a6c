"""``ApiClient``: HTTP to a workspace server with connection reuse, timeouts, retries with
backoff for calls that are safe to repeat, and server errors raised as Plinth exceptions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from plinth._api.errors import error_for
from plinth._api.schemas import API_PREFIX
from plinth.exceptions import StoreError

__all__ = ["ApiClient"]

_RETRY_STATUS = {502, 503, 504}
_ATTEMPTS = 5


class ApiClient:
    """One server's API. ``headers`` is called per request (tokens may be refreshed)."""

    def __init__(self, server_url: str, headers: Callable[[], Mapping[str, str]] | None = None,
                 timeout: float = 60.0):
        self.server_url = server_url.rstrip("/")
        self._headers = headers or (lambda: {})
        self._http = httpx.Client(
            base_url=self.server_url + API_PREFIX,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=15.0),
        )

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, body: Any = None, params: Mapping | None = None,
             idempotent: bool | None = None) -> Any:
        """Send a JSON request; return the decoded JSON (None for an empty reply)."""
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, allow_nan=True, separators=(",", ":"), default=str)
            headers["content-type"] = "application/json"
        response = self._send(method, path, content=content, params=params, headers=headers,
                              idempotent=idempotent)
        if not response.content:
            return None
        return json.loads(response.content)

    def send(self, method: str, path: str, *, content: Any = None,
             params: Mapping | None = None, idempotent: bool | None = None,
             ok_missing: bool = False) -> httpx.Response | None:
        """Send raw content (bytes or a file); None for a 404 when ``ok_missing``."""
        return self._send(method, path, content=content, params=params, headers={},
                          idempotent=idempotent, ok_missing=ok_missing)

    @contextmanager
    def stream(self, path: str, params: Mapping | None = None) -> Iterator[httpx.Response]:
        """A streamed GET; its body is read with ``iter_bytes``."""
        with self._http.stream("GET", path, params=params, headers=dict(self._headers())) as r:
            if r.status_code >= 400:
                r.read()
                _raise(r)
            yield r

    def _send(self, method: str, path: str, *, content: Any, params: Mapping | None,
              headers: dict, idempotent: bool | None, ok_missing: bool = False):
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        rewind = getattr(content, "seek", None)
        delay = 0.1
        for attempt in range(_ATTEMPTS):
            if rewind is not None:
                rewind(0)
            try:
                response = self._http.request(method, path, content=content, params=params,
                                              headers={**self._headers(), **headers})
            except httpx.ConnectError as exc:
                # Nothing reached the server, so any call may be tried again.
                if attempt == _ATTEMPTS - 1:
                    raise StoreError(f"Cannot reach the workspace server {self.server_url}: "
                                     f"{exc}. Is `plinth server` running there?") from exc
            except httpx.TransportError as exc:
                if not idempotent or attempt == _ATTEMPTS - 1:
                    raise StoreError(f"The workspace server {self.server_url} did not answer "
                                     f"{method} {path}: {exc!r}") from exc
            else:
                if response.status_code in _RETRY_STATUS and idempotent and attempt < _ATTEMPTS - 1:
                    pass
                elif ok_missing and response.status_code == 404:
                    return None
                elif response.status_code >= 400:
                    _raise(response)
                else:
                    return response
            time.sleep(delay)
            delay *= 2
        _raise(response)


def _raise(response: httpx.Response) -> None:
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "Error", response.text[:500] or response.reason_phrase
    raise error_for(code, message, response.status_code)

