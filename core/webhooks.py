"""Webhooks: an alert posted as JSON to a URL its owner chose, without letting that URL
reach into our own network (SSRF).

A webhook URL is user input that the *server* fetches, so it could name the cloud metadata
service (169.254.169.254), the database on localhost or a box on the office LAN. The rules
(``validate_url``), checked when the rule is saved and again at every post (DNS changes):

* ``https`` only in production (``http`` is allowed in development, for local receivers);
* no ``user:password@`` part, and a host;
* every address the host resolves to is public: private, loopback, link-local (fe80::/10,
  169.254/16: cloud metadata), multicast, reserved and unspecified addresses are refused,
  unless the host (or ``host:port``) is listed in ``WEBHOOK_ALLOWED_HOSTS``.

DNS rebinding (the name resolves to a public address when checked and to 127.0.0.1 when
connected) is closed by resolving once and *connecting to that checked address* with a
custom ``http.client`` connection; the Host header and TLS SNI/certificate check still use
the name. Redirects are never followed (a 3xx is a failure), so a public receiver cannot
bounce us elsewhere.

``post`` sends the JSON body with an ``Idempotency-Key`` header (the delivery's key: a
receiver may drop a second copy) and a timeout (``WEBHOOK_TIMEOUT``). A 2xx is success;
anything else is a ``WebhookFailed`` naming the status, permanent (no retries) for a 4xx
other than 408 and 429.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from urllib.parse import urlsplit

from analytics.errors import InvalidInput
from core.settings import Settings

USER_AGENT = "Shoplens-Webhook/1"


class WebhookRefused(InvalidInput):
    """This webhook URL is not allowed; the message says why."""


class WebhookFailed(Exception):
    """The receiver did not accept the post. ``permanent``: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def validate_url(url: str, settings: Settings) -> str:
    """Return ``url`` (stripped) if a webhook may be posted to it; raise WebhookRefused
    with a message naming the problem otherwise."""
    _, _, url = _resolve(url, settings)
    return url


def _resolve(url: str, settings: Settings) -> tuple[str, list[str], str]:
    """Check ``url`` and return (host, the checked addresses to connect to, url)."""
    url = (url or "").strip()
    if not url:
        raise WebhookRefused("webhook_url: give a URL")
    if len(url) > 1000:
        raise WebhookRefused("webhook_url: the URL is longer than 1000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"webhook_url: not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookRefused("webhook_url: the URL must start with https://")
    if scheme == "http" and settings.production:
        raise WebhookRefused("webhook_url: only https:// URLs are allowed in production")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookRefused("webhook_url: a user name or password in the URL is not "
                             "allowed (use a secret path or token in the URL instead)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise WebhookRefused("webhook_url: the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"webhook_url: the host {host} cannot be resolved ({exc})"
                             ) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise WebhookRefused(f"webhook_url: the host {host} has no address")
    if not _allowed_host(host, port, settings):
        for address in addresses:
            problem = _non_public(address)
            if problem:
                raise WebhookRefused(
                    f"webhook_url: {host} resolves to {address}, a {problem} address; "
                    "webhooks may only go to public addresses (an admin can allow a host "
                    "with WEBHOOK_ALLOWED_HOSTS)")
    return host, addresses, url


def _allowed_host(host: str, port: int, settings: Settings) -> bool:
    """Is ``host`` (or ``host:port``) listed in WEBHOOK_ALLOWED_HOSTS?"""
    bare = host.strip("[]")
    names = {bare, f"[{bare}]", f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"}
    return any(entry.strip().lower() in names for entry in settings.webhook_allowed_hosts)


def _non_public(address: str) -> str | None:
    """What kind of non-public address ``address`` is, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if test:
            return kind
    if not ip.is_global:
        return "non-public"
    return None


# ----------------------------------------------------------------- posting
def tls_context() -> ssl.SSLContext:
    """The system's trusted CAs, hostname checked (one place, so tests can add theirs)."""
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address; the Host header keeps the name."""

    def __init__(self, host: str, address: str, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; SNI and the certificate check use the
    name, so a valid certificate for the name is still required."""

    def __init__(self, host: str, address: str, **kwargs):
        super().__init__(host, context=tls_context(), **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(settings: Settings, url: str, payload: dict, key: str) -> str:
    """POST ``payload`` as JSON to ``url`` with ``Idempotency-Key: key``; return a short
    description of the answer ("HTTP 200"). Raises WebhookRefused when the URL is (now)
    not allowed, WebhookFailed for a non-2xx answer (``permanent`` for a 4xx other than
    408/429) and the socket's OSError when the receiver cannot be reached."""
    host, addresses, url = _resolve(url, settings)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    kind = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
    connection = kind(host, addresses[0], port=parts.port, timeout=settings.webhook_timeout)
    try:
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "Idempotency-Key": key})
        response = connection.getresponse()
        status, reason = response.status, response.reason
        response.read(65536)  # drain a little; the answer's body is not used
    finally:
        connection.close()
    if 200 <= status < 300:
        return f"HTTP {status}"
    redirect = 300 <= status < 400
    # a redirect is never followed, and a 4xx says the request itself is wrong: retrying
    # cannot help (except 408 timeout and 429 too many requests)
    permanent = redirect or (400 <= status < 500 and status not in (408, 429))
    raise WebhookFailed(f"the receiver answered HTTP {status} {reason}".rstrip()
                        + (" (redirects are not followed)" if redirect else ""),
                        permanent=permanent)
