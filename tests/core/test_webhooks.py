"""Webhooks: the SSRF rules of ``validate_url`` and posts to a real local HTTP receiver."""
from __future__ import annotations

import datetime as dt
import json
import socket

import pytest

from core import webhooks
from core.webhooks import WebhookRefused


@pytest.fixture
def dev(settings):
    return settings.with_overrides(env="development", webhook_allowed_hosts=())


@pytest.fixture
def resolve_public(monkeypatch):
    """``hooks.example.com`` resolves to a public address (no network needed); every other
    name resolves for real."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        table = {"hooks.example.com": "93.184.215.14", "sneaky.example.com": "127.0.0.1",
                 "metadata.example.com": "169.254.169.254", "mixed.example.com": None}
        if host in table:
            if table[host] is None:  # one public and one private address
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_public_https_url_is_accepted(dev, resolve_public):
    url = "https://hooks.example.com/services/T0/B0/xyz"
    assert webhooks.validate_url(f"  {url} ", dev) == url
    production = dev.with_overrides(env="production")
    assert webhooks.validate_url(url, production) == url
    assert webhooks.validate_url("http://hooks.example.com/x", dev) == "http://hooks.example.com/x"


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:8080/hook", "127.0.0.1, a loopback address"),
    ("http://10.1.2.3/hook", "10.1.2.3, a private address"),
    ("http://192.168.0.5/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost:9000/hook", "loopback"),
    ("http://[::1]:9000/hook", "::1, a loopback address"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://sneaky.example.com/hook", "sneaky.example.com resolves to 127.0.0.1"),
    ("http://metadata.example.com/hook", "link-local"),
    ("http://mixed.example.com/hook", "10.0.0.7, a private address"),
    ("https://user:secret@hooks.example.com/hook", "user name or password"),
    ("ftp://hooks.example.com/hook", "must start with https://"),
    ("https:///nohost", "no host"),
    ("", "give a URL"),
    ("http://no-such-host.invalid/hook", "cannot be resolved"),
])
def test_non_public_and_malformed_urls_are_refused(dev, resolve_public, url, words):
    with pytest.raises(WebhookRefused) as refused:
        webhooks.validate_url(url, dev)
    assert words in refused.value.message
    assert refused.value.status == 400


def test_production_requires_https(dev, resolve_public):
    production = dev.with_overrides(env="production")
    with pytest.raises(WebhookRefused, match="only https:// URLs are allowed in production"):
        webhooks.validate_url("http://hooks.example.com/hook", production)


def test_allowed_hosts_lift_the_address_rule_only(dev):
    by_host = dev.with_overrides(webhook_allowed_hosts=("127.0.0.1",))
    assert webhooks.validate_url("http://127.0.0.1:8123/h", by_host) == "http://127.0.0.1:8123/h"
    by_port = dev.with_overrides(webhook_allowed_hosts=("127.0.0.1:8123",))
    assert webhooks.validate_url("http://127.0.0.1:8123/h", by_port)
    with pytest.raises(WebhookRefused, match="loopback"):
        webhooks.validate_url("http://127.0.0.1:8124/h", by_port)
    v6 = dev.with_overrides(webhook_allowed_hosts=("[::1]:8123",))
    assert webhooks.validate_url("http://[::1]:8123/h", v6)
    with pytest.raises(WebhookRefused, match="user name or password"):
        webhooks.validate_url("http://u:p@127.0.0.1:8123/h", by_host)
    with pytest.raises(WebhookRefused, match="only https://"):
        webhooks.validate_url("http://127.0.0.1:8123/h", by_host.with_overrides(env="production"))


def test_the_setting_is_read_from_the_environment(tmp_path):
    from core.settings import load_settings

    settings = load_settings({"SHOPLENS_HOME": str(tmp_path),
                              "WEBHOOK_ALLOWED_HOSTS": " Hooks.Internal:8443, 10.0.0.9 ,",
                              "WEBHOOK_TIMEOUT": "3"})
    assert settings.webhook_allowed_hosts == ("hooks.internal:8443", "10.0.0.9")
    assert settings.webhook_timeout == 3.0
    assert load_settings({"SHOPLENS_HOME": str(tmp_path)}).webhook_allowed_hosts == ()


# ----------------------------------------------------------------- a real receiver
class Receiver:
    """A real HTTP server (http.server in a thread) on 127.0.0.1 that records every POST
    (path, headers, JSON body) and answers with the next status of ``answers`` (the last
    one once they run out)."""

    def __init__(self, answers=(200,)):
        import http.server
        import threading

        self.answers, self.requests = list(answers), []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.answers.pop(0) if len(receiver.answers) > 1 \
                    else receiver.answers[0]
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(body), "status": status})
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/alerts?team=ops"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def accepted(self) -> list[dict]:
        return [request for request in self.requests if 200 <= request["status"] < 300]


@pytest.fixture
def allowed(dev):
    return dev.with_overrides(webhook_allowed_hosts=("127.0.0.1",), webhook_timeout=5.0)


def test_post_sends_json_with_the_idempotency_key(allowed):
    with Receiver() as receiver:
        answer = webhooks.post(allowed, receiver.url, {"text": "Revenue fell", "n": 1},
                               "firing:7:webhook:x")
    assert answer == "HTTP 200"
    [request] = receiver.requests
    assert request["path"] == "/hooks/alerts?team=ops"
    assert request["json"] == {"text": "Revenue fell", "n": 1}
    assert request["headers"]["Idempotency-Key"] == "firing:7:webhook:x"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert request["headers"]["Host"] == f"127.0.0.1:{receiver.port}"


@pytest.mark.parametrize("status, permanent", [(500, False), (503, False), (408, False),
                                               (429, False), (404, True), (400, True),
                                               (410, True), (302, True)])
def test_a_non_2xx_answer_fails_and_4xx_is_permanent(allowed, status, permanent):
    with Receiver([status]) as receiver:
        with pytest.raises(webhooks.WebhookFailed) as failed:
            webhooks.post(allowed, receiver.url, {"text": "x"}, "k")
    assert f"HTTP {status}" in str(failed.value)
    assert failed.value.permanent is permanent
    assert len(receiver.requests) == 1  # a redirect is not followed


def test_post_checks_the_url_again(dev):
    with Receiver() as receiver:
        with pytest.raises(WebhookRefused, match="loopback"):
            webhooks.post(dev, receiver.url, {"text": "x"}, "k")  # not allowed any more
        assert receiver.requests == []


def test_post_connects_to_the_address_it_checked(allowed, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that address is connected
    to, whatever the name resolves to afterwards."""
    real = socket.getaddrinfo
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.example.com":
            calls.append(host)
            address = "127.0.0.1" if len(calls) == 1 else "10.9.9.9"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    rebind = allowed.with_overrides(webhook_allowed_hosts=("rebind.example.com",))
    with Receiver() as receiver:
        answer = webhooks.post(rebind, f"http://rebind.example.com:{receiver.port}/h",
                               {"text": "x"}, "k")
    assert answer == "HTTP 200" and calls == ["rebind.example.com"]
    assert receiver.requests[0]["headers"]["Host"] == f"rebind.example.com:{receiver.port}"


# ----------------------------------------------------------------- https, pinned
def _certificate(tmp_path, name: str):
    """A self-signed certificate for ``name`` (its own CA): (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """A Receiver behind TLS with a certificate for hooks.test; hooks.test resolves to
    127.0.0.1 and the certificate's CA is trusted (``webhooks.tls_context``)."""
    import ssl
    cert, key = _certificate(tmp_path, "hooks.test")
    receiver = Receiver()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    receiver.server.socket = server_context.wrap_socket(receiver.server.socket,
                                                        server_side=True)

    def trusting():
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(cert))
        return context
    monkeypatch.setattr(webhooks, "tls_context", trusting)
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("hooks.test", "other.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with receiver:
        yield receiver


def test_https_connects_to_the_checked_address_and_verifies_the_name(dev, tls_receiver):
    production = dev.with_overrides(env="production", webhook_timeout=5.0,
                                    webhook_allowed_hosts=("hooks.test", "other.test"))
    url = f"https://hooks.test:{tls_receiver.port}/hook"
    assert webhooks.post(production, url, {"text": "x"}, "k") == "HTTP 200"
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.test:{tls_receiver.port}"
    # the same address under a name the certificate does not hold: refused by TLS
    with pytest.raises(ssl_errors()):
        webhooks.post(production, f"https://other.test:{tls_receiver.port}/hook",
                      {"text": "x"}, "k")
    assert len(tls_receiver.requests) == 1


def ssl_errors():
    import ssl
    return (ssl.SSLError, ssl.CertificateError)
