"""All settings, in one place, read from the environment with safe embedded defaults.

| variable          | default (embedded)                              | production            |
|-------------------|-------------------------------------------------|-----------------------|
| SHOPLENS_ENV      | development                                     | production            |
| SHOPLENS_HOME     | ./var  (every file the app writes goes here)    | a persistent volume   |
| DATABASE_URL      | sqlite:///$SHOPLENS_HOME/shoplens.db            | postgresql://…        |
| WAREHOUSE_URL     | duckdb:///$SHOPLENS_HOME/warehouse              | postgresql://…        |
| CLICKHOUSE_CLUSTER | (unset: one ClickHouse server)                 | cluster name (clickhouse://) |
| REDIS_URL         | (unset: SQLite broker, file cache)              | redis://…             |
| SECRET_KEY        | generated once into $SHOPLENS_HOME/secret_key   | required              |
| SMTP_HOST         | (unset: mail written as .eml under outbox/)     | your relay            |
| SMTP_PORT         | 587 (25 when SMTP_TLS=none)                     |                       |
| SMTP_USER / SMTP_PASSWORD | (none)                                  |                       |
| SMTP_TLS          | starttls  (starttls | ssl | none)               |                       |
| SMTP_TIMEOUT      | 20 seconds                                      |                       |
| MAIL_FROM         | shoplens@localhost                              | a real sender         |
| MAIL_ATTACH_LIMIT_MB | 10 (bigger reports are sent as a link)       |                       |
| PUBLIC_URL        | http://127.0.0.1:8050 (used in e-mailed links)  | https://…             |
| SESSION_MINUTES   | 480 (idle sign-out)                             |                       |
| CURRENCY          | (unset: the data's own, else GBP) ISO code or sign |                     |
| NUMBER_STYLE      | 1,234.56  (1,234.56 | 1.234,56 | 1 234,56 | 1'234.56) |                   |
| DATE_FORMAT       | d mmm yyyy  (d mmm yyyy | dd/mm/yyyy | mm/dd/yyyy | yyyy-mm-dd) |           |
| DATA_TIMEZONE     | UTC  (the time zone the data's times are in)     |                       |
| TRUSTED_PROXIES   | 0 (X-Forwarded-For/-Proto ignored)              | proxy hops, e.g. 1    |
| WAREHOUSE_STATEMENT_TIMEOUT | 30 seconds a warehouse read may run (0: none) |             |
| WEBHOOK_ALLOWED_HOSTS | (none) hosts or host:port webhooks may reach although private | |
| WEBHOOK_TIMEOUT   | 10 seconds a webhook post may take              |                       |

CURRENCY, NUMBER_STYLE, DATE_FORMAT and DATA_TIMEZONE are the defaults of the installation's
locale (``core.installation``): an admin may change each in the app (Admin → Settings, the
API's /settings/locale, ``flask settings locale``), and a data file stating its currency
(Shopify's ``Currency``) is always shown in that currency.

TRUSTED_PROXIES is the number of reverse proxies in front of the web process that each
append to X-Forwarded-For and set X-Forwarded-Proto. With N > 0 the client address (sign-in
throttle, audit log) is the N-th address from the right of X-Forwarded-For; with 0 the
headers are ignored, so a client cannot pose as another address. Set it to exactly the
number of proxies: more lets clients spoof their address, fewer shows the proxy's address.

Production (``SHOPLENS_ENV=production``) refuses to start without SECRET_KEY, and with a
SECRET_KEY shorter than 32 characters.

Input limits of every data load (CLI, upload, data_load job; ``data.readers.LoadLimits``):

| variable                        | default                                             |
|---------------------------------|-----------------------------------------------------|
| LOAD_MAX_MB                     | 5120 (data of one file, once decompressed)          |
| LOAD_MAX_RATIO                  | 100 (decompressed / compressed size of .gz, .xlsx)  |
| LOAD_MAX_FIELD_KB               | 64 (a longer field rejects its line)                |
| LOAD_MAX_REJECTS                | 100000 (rejected lines written to the rejects file) |
| LOAD_REPLACE_MAX_REJECTED_PCT   | 10 (a replacing load rejecting more is refused)     |
| LOAD_REPLACE_MIN_KEPT_PCT       | 50 (… and one keeping fewer of the current lines)   |
| UPLOAD_KEEP_DAYS                | 7 (uploaded files are deleted after that)           |

The two LOAD_REPLACE_* rules are lifted for one load by ``--force`` (CLI) or the data_load
job's ``force`` option; the other limits always hold.

Plausible lines (``data.plausibility``): a load rejects, with its reason, every line whose
quantity, unit price or unit cost is not a finite number or lies beyond these bounds, or
whose invoice date lies outside the window:

| variable                  | default                         |
|---------------------------|---------------------------------|
| PLAUSIBLE_MAX_QUANTITY    | 10000000 (largest abs. quantity) |
| PLAUSIBLE_MAX_UNIT_PRICE  | 1000000000 (abs. unit price)   |
| PLAUSIBLE_MAX_UNIT_COST   | 1000000000 (abs. unit cost)    |
| PLAUSIBLE_FIRST_DATE      | 1990-01-01                      |
| PLAUSIBLE_LAST_DATE       | (unset: one year after the load)|
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


class ConfigurationError(RuntimeError):
    """The settings cannot work; the message says which variable to fix."""


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    database_url: str
    warehouse_url: str
    redis_url: str | None
    secret_key: str
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_tls: str
    smtp_timeout: float
    mail_from: str
    mail_attach_limit_mb: float
    public_url: str
    session_minutes: int
    currency: str                   # CURRENCY as set ("USD", "$"), "" when unset
    trusted_proxies: int = 0
    # the locale's defaults (core.formatting.Locale; an admin may change them in the app)
    number_style: str = "1,234.56"
    date_format: str = "d mmm yyyy"
    data_timezone: str = "UTC"
    # seconds a warehouse read statement may run (analytics.warehouse.Warehouse); 0: no limit
    warehouse_statement_timeout: float = 30.0
    # webhooks (core.webhooks): hosts allowed although not public, and the post's timeout
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_timeout: float = 10.0
    # input limits of a data load (data.readers.LoadLimits) and how long uploads are kept
    load_max_mb: int = 5120
    load_max_ratio: float = 100.0
    load_max_field_kb: int = 64
    load_max_rejects: int = 100_000
    load_replace_max_rejected_pct: float = 10.0
    load_replace_min_kept_pct: float = 50.0
    upload_keep_days: float = 7.0
    # plausible lines (data.plausibility.Limits; its defaults)
    plausible_max_quantity: float = 1e7
    plausible_max_unit_price: float = 1e9
    plausible_max_unit_cost: float = 1e9
    plausible_first_date: dt.date = dt.date(1990, 1, 1)
    plausible_last_date: dt.date | None = None
    extra: dict = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def uploads(self) -> Path:
        return self.home / "uploads"

    @property
    def results(self) -> Path:
        return self.home / "results"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    def plausibility_limits(self):
        """The bounds of a plausible line, as ``data.plausibility.Limits``."""
        from data.plausibility import Limits  # pandas: only where data is loaded
        return Limits(max_quantity=self.plausible_max_quantity,
                      max_unit_price=self.plausible_max_unit_price,
                      max_unit_cost=self.plausible_max_unit_cost,
                      first_day=self.plausible_first_date, last_day=self.plausible_last_date)

    def load_limits(self):
        """The input limits of a data load, as ``data.readers.LoadLimits``."""
        from data.readers import LoadLimits  # pandas: only where data is loaded
        return LoadLimits(max_bytes=self.load_max_mb * 2**20, max_ratio=self.load_max_ratio,
                          max_field_bytes=self.load_max_field_kb * 1024,
                          max_rejects_written=self.load_max_rejects,
                          replace_max_rejected_share=self.load_replace_max_rejected_pct / 100,
                          replace_min_kept_share=self.load_replace_min_kept_pct / 100)

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default: ``os.environ``)."""
    env = dict(os.environ if environ is None else environ)
    mode = env.get("SHOPLENS_ENV", "development").strip().lower()
    home = Path(env.get("SHOPLENS_HOME") or "var").expanduser().resolve()
    production = mode == "production"

    secret = env.get("SECRET_KEY")
    if production:
        if not secret:
            raise ConfigurationError("SECRET_KEY must be set when SHOPLENS_ENV=production")
        if len(secret) < 32:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters in production")
        for name in ("DATABASE_URL", "WAREHOUSE_URL"):
            if not env.get(name):
                raise ConfigurationError(f"{name} must be set when SHOPLENS_ENV=production")
    else:
        home.mkdir(parents=True, exist_ok=True)
        secret = secret or _embedded_secret(home)

    tls = env.get("SMTP_TLS", "starttls").strip().lower()
    if tls not in ("starttls", "ssl", "none"):
        raise ConfigurationError("SMTP_TLS must be one of starttls, ssl, none")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[tls]
    return Settings(
        env=mode,
        home=home,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{home / 'shoplens.db'}",
        warehouse_url=_warehouse_url(env, home),
        redis_url=env.get("REDIS_URL") or None,
        secret_key=secret,
        smtp_host=env.get("SMTP_HOST") or None,
        smtp_port=_int(env, "SMTP_PORT", default_port),
        smtp_user=env.get("SMTP_USER") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        smtp_tls=tls,
        smtp_timeout=float(env.get("SMTP_TIMEOUT") or 20),
        mail_from=env.get("MAIL_FROM") or "shoplens@localhost",
        mail_attach_limit_mb=float(env.get("MAIL_ATTACH_LIMIT_MB") or 10),
        public_url=(env.get("PUBLIC_URL") or "http://127.0.0.1:8050").rstrip("/"),
        session_minutes=_int(env, "SESSION_MINUTES", 480),
        **_locale(env),
        trusted_proxies=_proxy_hops(env),
        warehouse_statement_timeout=_seconds(env, "WAREHOUSE_STATEMENT_TIMEOUT", 30.0),
        webhook_allowed_hosts=tuple(
            host.strip().lower() for host in (env.get("WEBHOOK_ALLOWED_HOSTS") or "").split(",")
            if host.strip()),
        webhook_timeout=_seconds(env, "WEBHOOK_TIMEOUT", 10.0) or 10.0,
        **_load_limits(env),
        **_plausibility(env),
    )


def _warehouse_url(env: dict[str, str], home: Path) -> str:
    """WAREHOUSE_URL, with CLICKHOUSE_CLUSTER as its ``cluster`` option: every Warehouse
    built from the settings (web, workers, CLI) then lays data versions out on the cluster
    (``analytics.clickhouse.VersionLayout``)."""
    url = env.get("WAREHOUSE_URL") or f"duckdb:///{home / 'warehouse'}"
    cluster = (env.get("CLICKHOUSE_CLUSTER") or "").strip()
    if not cluster:
        return url
    if not url.startswith(("clickhouse://", "clickhouse+http://")):
        raise ConfigurationError("CLICKHOUSE_CLUSTER needs a clickhouse:// WAREHOUSE_URL "
                                 "(DuckDB, PostgreSQL and chDB have no cluster)")
    if not cluster.isidentifier() or not cluster.isascii():
        raise ConfigurationError(f"CLICKHOUSE_CLUSTER {cluster!r} is not a plain name "
                                 "(letters, digits, _)")
    if "cluster=" in url.partition("?")[2]:
        raise ConfigurationError("Set the cluster once: CLICKHOUSE_CLUSTER or WAREHOUSE_URL's "
                                 "?cluster=, not both")
    return f"{url}{'&' if '?' in url else '?'}cluster={cluster}"


def _locale(env: dict[str, str]) -> dict:
    """CURRENCY, NUMBER_STYLE, DATE_FORMAT and DATA_TIMEZONE as Settings fields, checked."""
    from core import formatting
    values = {"currency": (env.get("CURRENCY") or "").strip()}
    checks = (("CURRENCY", "currency", formatting.currency_code),
              ("NUMBER_STYLE", "number_style", formatting.check_number_style),
              ("DATE_FORMAT", "date_format", formatting.check_date_format),
              ("DATA_TIMEZONE", "data_timezone", formatting.check_timezone))
    for name, field_name, check in checks:
        text = (env.get(name) or "").strip()
        if not text:
            continue
        try:
            check(text)
        except formatting.LocaleError as exc:
            raise ConfigurationError(f"{name}: {exc}") from None
        values[field_name] = text
    return values


def _plausibility(env: dict[str, str]) -> dict:
    """The PLAUSIBLE_* settings (bounds of a plausible line) as Settings fields."""
    values: dict = {}
    for name, field_name in (("PLAUSIBLE_MAX_QUANTITY", "plausible_max_quantity"),
                             ("PLAUSIBLE_MAX_UNIT_PRICE", "plausible_max_unit_price"),
                             ("PLAUSIBLE_MAX_UNIT_COST", "plausible_max_unit_cost")):
        text = (env.get(name) or "").strip()
        if not text:
            continue
        try:
            bound = float(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, not {text!r}") from None
        if not (0 < bound < float("inf")):
            raise ConfigurationError(f"{name} must be a positive finite number, not {text!r}")
        values[field_name] = bound
    for name, field_name in (("PLAUSIBLE_FIRST_DATE", "plausible_first_date"),
                             ("PLAUSIBLE_LAST_DATE", "plausible_last_date")):
        text = (env.get(name) or "").strip()
        if not text:
            continue
        try:
            values[field_name] = dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a date (YYYY-MM-DD), not {text!r}"
                                     ) from None
    first = values.get("plausible_first_date", Settings.plausible_first_date)
    last = values.get("plausible_last_date")
    if last is not None and last < first:
        raise ConfigurationError(f"PLAUSIBLE_LAST_DATE ({last}) is before "
                                 f"PLAUSIBLE_FIRST_DATE ({first})")
    return values


def _load_limits(env: dict[str, str]) -> dict:
    """The LOAD_* and UPLOAD_KEEP_DAYS settings as Settings fields (unset: the defaults)."""
    values: dict = {}
    for name, field_name, low, high in (
            ("LOAD_MAX_MB", "load_max_mb", 1, 10**7),
            ("LOAD_MAX_RATIO", "load_max_ratio", 2, 10**6),
            ("LOAD_MAX_FIELD_KB", "load_max_field_kb", 1, 100),  # csv's own limit is 128 KB
            ("LOAD_MAX_REJECTS", "load_max_rejects", 0, 10**9),
            ("LOAD_REPLACE_MAX_REJECTED_PCT", "load_replace_max_rejected_pct", 0, 100),
            ("LOAD_REPLACE_MIN_KEPT_PCT", "load_replace_min_kept_pct", 0, 100),
            ("UPLOAD_KEEP_DAYS", "upload_keep_days", 0, 3650)):
        text = (env.get(name) or "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, not {text!r}") from None
        if not low <= value <= high:
            raise ConfigurationError(f"{name} must be between {low} and {high}, not {text}")
        integer = isinstance(Settings.__dataclass_fields__[field_name].default, int)
        if integer and value != int(value):
            raise ConfigurationError(f"{name} must be a whole number, not {text!r}")
        values[field_name] = int(value) if integer else value
    return values


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86_400:
        raise ConfigurationError(f"{name} must be a number of seconds (0 for no limit), "
                                 f"not {text!r}")
    return value


def _proxy_hops(env: dict[str, str]) -> int:
    hops = _int(env, "TRUSTED_PROXIES", 0)
    if not 0 <= hops <= 10:
        raise ConfigurationError(f"TRUSTED_PROXIES must be between 0 and 10 (the number of "
                                 f"proxies in front of the web server), not {hops}")
    return hops


def _embedded_secret(home: Path) -> str:
    """The embedded setup creates its own secret once and keeps it (readable by us only)."""
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (web/worker) made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
