"""Webhooks: the SSRF rules of ``validate_url`` and posts to a real local HTTP receiver."""
from __future__ import annotations

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
