"""The Hub endpoint a command talks to: can it be reached at all, and which token may be sent to it.

Used by ``audit``, ``verify`` and ``clone`` before their first request.

``check_reachable`` resolves the endpoint's host (or the proxy's, when an ``HTTP(S)_PROXY``
applies) and opens one TCP connection, within ``CONNECT_TIMEOUT`` seconds in all. A name that
does not resolve, a refused connection or no answer is not worth retrying: the command stops
with one line (``SourceUnreachableError``, exit 2) instead of spending minutes in retries.
Each bound is explicit:

- name resolution: at most ``CONNECT_TIMEOUT`` s (a resolver that hangs is abandoned in a
  daemon thread);
- TCP connect: whatever is left of the same ``CONNECT_TIMEOUT`` s, over at most four addresses.

``hub_token`` follows huggingface_hub's own resolution (``huggingface_hub.get_token()``:
``HF_TOKEN``, else the token saved by ``hf auth login``), and sends that token only to the
endpoint it belongs to: huggingface_hub's configured endpoint (``HF_ENDPOINT``, else
https://huggingface.co). A token given with ``--token`` is the user's choice for ``--endpoint``.
For any other endpoint no token is sent (``False``: huggingface_hub then sends none either,
instead of its implicit one).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from urllib.parse import urlsplit

from huggingface_hub import get_token

from ptmscope.errors import SourceUnreachableError
from ptmscope.hub import DEFAULT_ENDPOINT
from ptmscope.hub.client import token_for

CONNECT_TIMEOUT = 5.0
"""Seconds for resolving the endpoint's host and connecting to it, together."""


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def hub_token(endpoint: str, explicit: str | None = None) -> tuple[str | bool, str | None]:
    """The token to send to ``endpoint`` and, when a token exists but is withheld, a note saying so.

    The rule is the crawl's (``ptmscope.hub.client.token_for``): ``explicit`` wins; else
    huggingface_hub's token, only when ``endpoint`` is ``HF_ENDPOINT`` (else the real Hub).
    Returns ``(token, note)``: ``token`` is the string to send, or ``False`` for no token
    (huggingface_hub reads ``False`` as "send none", where ``None`` would send its own).
    """
    try:
        token = token_for(endpoint, explicit)
    except Exception:  # an OIDC exchange or a token file that fails: send none, and say nothing secret
        return False, "huggingface_hub could not resolve a token; sending none"
    if token:
        return token, None
    try:
        withheld = bool(get_token())
    except Exception:
        withheld = False
    home = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    note = f"not sending your Hugging Face token to {endpoint} (it belongs to {home}); --token sends one"
    return False, note if withheld else None


def _proxy_for(url: str) -> tuple[str, int] | None:
    """The (host, port) of the proxy an HTTP client would use for ``url``, or None for a direct connection."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        if urllib.request.proxy_bypass(host):
            return None
    except OSError:
        pass
    proxy = urllib.request.getproxies().get(parts.scheme.lower())
    if not proxy:
        return None
    proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not proxy_parts.hostname:
        return None
    try:
        return proxy_parts.hostname, proxy_parts.port or (443 if proxy_parts.scheme == "https" else 80)
    except ValueError:
        return None


def _resolve(host: str, port: int, timeout: float) -> list[tuple[int, tuple[object, ...]]]:
    """getaddrinfo in a daemon thread, abandoned after ``timeout`` s (a hung resolver cannot hold the command)."""
    infos: list[tuple[int, tuple[object, ...]]] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            infos.extend((i[0], i[4]) for i in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:
            failure.append(error)

    thread = threading.Thread(target=work, name="ptmscope-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"resolving {host} took over {timeout:.0f} s")
    if failure:
        raise failure[0]
    return infos


def check_reachable(endpoint: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``SourceUnreachableError`` unless a TCP connection to ``endpoint`` (or its proxy) opens in time.

    Raises:
        SourceUnreachableError: not an http(s) URL, the name does not resolve, the connection is
            refused, or nothing answers within ``timeout`` seconds.
    """
    parts = urlsplit(endpoint)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceUnreachableError(f"{endpoint!r} is not an http(s) URL")
    _, host, port = _origin(endpoint)
    if port < 0:
        raise SourceUnreachableError(f"{endpoint!r} has an invalid port")
    proxy = _proxy_for(endpoint)
    via = ""
    if proxy is not None:
        host, port = proxy
        via = f" (through the proxy {host}:{port})"
    deadline = time.monotonic() + timeout
    try:
        addresses = _resolve(host, port, timeout)
    except TimeoutError as error:
        raise SourceUnreachableError(f"cannot reach {endpoint}{via}: {error}") from None
    except (OSError, UnicodeError) as error:
        raise SourceUnreachableError(
            f"cannot reach {endpoint}{via}: the host name {host} does not resolve ({error}); no network or DNS?"
        ) from None
    if not addresses:
        raise SourceUnreachableError(f"cannot reach {endpoint}{via}: the host name {host} has no address")
    last: OSError | None = None
    for family, address in addresses[:4]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(left)
                sock.connect(address)
            return
        except OSError as error:
            last = error
    if isinstance(last, ConnectionRefusedError):
        reason = f"the connection to {host}:{port} was refused"
    elif last is None or isinstance(last, TimeoutError):
        reason = f"no answer from {host}:{port} within {timeout:.0f} s"
    else:
        reason = f"cannot connect to {host}:{port} ({last.strerror or last})"
    raise SourceUnreachableError(f"cannot reach {endpoint}{via}: {reason}") from None
