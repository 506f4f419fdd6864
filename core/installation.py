"""The installation's locale: the currency, number style, date format and data time zone
every screen, report, e-mail and API sentence writes with (``core.formatting.Locale``).

Each setting is, in this order: what an admin set in the app (``installation_settings``
rows, changed by ``update_locale``), else its environment variable (CURRENCY,
NUMBER_STYLE, DATE_FORMAT, DATA_TIMEZONE; ``core.settings``), else the default. The currency
has one more rule: when the current data version states its currency (a load read it from
the file, e.g. Shopify's ``Currency``), amounts are shown in that currency, whatever was
set, because a setting can only label the amounts, not convert them; a setting that says
otherwise is reported as a warning (admin page, API), so £ is never written on dollars.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import AccessDenied
from analytics.warehouse import WarehouseError
from core import audit
from core.formatting import (DEFAULT_CURRENCY, Locale, LocaleError, check_date_format,
                             check_number_style, check_timezone, currency_code)
from core.orm import InstallationSetting, User
from core.settings import Settings

#: Locale field → its row in ``installation_settings``.
SETTING_NAMES = {"currency": "locale.currency", "number_style": "locale.number_style",
                 "date_format": "locale.date_format", "timezone": "locale.timezone"}
_CHECKS = {"currency": currency_code, "number_style": check_number_style,
           "date_format": check_date_format, "timezone": check_timezone}

#: Seconds a process keeps the resolved locale before reading the settings again (another
#: web process's change shows within this; this process's own change at once).
CACHE_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class LocaleState:
    """The locale in effect, where each of its settings came from ("admin",
    "environment", "data" or "default"), the currency the current data states (None when
    it states none) and a warning when a set currency contradicts it."""
    locale: Locale
    sources: dict
    data_currency: str | None = None
    warning: str | None = None

    def to_dict(self) -> dict:
        return {**self.locale.to_dict(), "sources": dict(self.sources),
                "data_currency": self.data_currency, "warning": self.warning,
                "example": example(self.locale)}


def example(locale: Locale) -> str:
    """The preview an admin sees: "£1,234,567.89 · 2 Dec 2025"."""
    import datetime as dt

    from core.formatting import format_date, format_money
    return f"{format_money(1234567.89, locale, 2)} · {format_date(dt.date(2025, 12, 2), locale)}"


def stored_settings(session: Session) -> dict[str, str]:
    """The locale fields an admin set in the app (field → value)."""
    names = {row: field for field, row in SETTING_NAMES.items()}
    rows = session.execute(sa.select(InstallationSetting).where(
        InstallationSetting.name.in_(names))).scalars()
    return {names[row.name]: row.value for row in rows}


def environment_settings(settings: Settings) -> dict[str, str]:
    """The locale fields the environment sets (CURRENCY only when it is set)."""
    values = {"number_style": settings.number_style, "date_format": settings.date_format,
              "timezone": settings.data_timezone}
    if settings.currency:
        values["currency"] = currency_code(settings.currency)
    return values


def set_currency(settings: Settings) -> str | None:
    """The currency an admin (or else CURRENCY) set, as an ISO code; None when neither did
    (the data's own is then used). Read for a load's report, which warns when a file's
    currency is another."""
    from core import db
    with db.session_scope(settings.database_url) as session:
        stored = stored_settings(session).get("currency")
    if stored:
        return stored
    return currency_code(settings.currency) if settings.currency else None


def data_currency(warehouse) -> str | None:
    """The ISO code of the currency the current data version states, if it states one."""
    try:
        info = warehouse.version_info()
    except WarehouseError:  # no data yet, or the warehouse cannot be read
        return None
    code = ((info.quality or {}).get("orders") or {}).get("currency")
    try:
        return currency_code(code) if code else None
    except LocaleError:
        return None


def resolve(stored: dict[str, str], settings: Settings, stated: str | None) -> LocaleState:
    """The locale from the admin's ``stored`` settings, the environment's, and the currency
    the data ``stated`` (see the module's docstring for the order)."""
    environment = environment_settings(settings)
    fields, sources = {}, {}
    for field in SETTING_NAMES:
        if field in stored:
            fields[field], sources[field] = stored[field], "admin"
        elif field in environment and (field != "currency" or settings.currency):
            fields[field], sources[field] = environment[field], "environment"
    if "currency" not in fields:
        fields["currency"], sources["currency"] = DEFAULT_CURRENCY, "default"
    warning = None
    if stated and stated != currency_code(fields["currency"]):
        if sources["currency"] != "default":
            by = "an admin" if sources["currency"] == "admin" else "CURRENCY"
            warning = (f"The currency is set to {currency_code(fields['currency'])} (by {by}), "
                       f"but the data's amounts are in {stated}: amounts are shown in "
                       f"{stated}. Set the currency to {stated}, or load data in "
                       f"{currency_code(fields['currency'])}.")
        fields["currency"], sources["currency"] = stated, "data"
    for field in ("number_style", "date_format", "timezone"):
        sources.setdefault(field, "default")
    return LocaleState(locale=Locale(**fields), sources=sources, data_currency=stated,
                       warning=warning)


_cache: dict[tuple, tuple[float, LocaleState]] = {}
_cache_lock = threading.Lock()


def current_state(session: Session, settings: Settings, warehouse) -> LocaleState:
    """The installation's locale now (kept by this process for CACHE_SECONDS, per data
    version, so a load's stated currency applies at once)."""
    version = _current_version(warehouse)
    key = (settings.database_url, getattr(warehouse, "url", None), version)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    state = resolve(stored_settings(session), settings,
                    data_currency(warehouse) if version is not None else None)
    with _cache_lock:
        _cache.clear()  # one entry: the other versions' are stale
        _cache[key] = (now, state)
    return state


def current_locale(session: Session, settings: Settings, warehouse) -> Locale:
    return current_state(session, settings, warehouse).locale


def locale_for(settings: Settings, warehouse=None) -> Locale:
    """The installation's locale where no session is at hand (workers, reports, e-mails):
    reads with its own session and, without ``warehouse``, settings' warehouse."""
    from analytics.warehouse import Warehouse
    from core import db
    own = warehouse is None
    warehouse = Warehouse(settings.warehouse_url) if own else warehouse
    try:
        with db.session_scope(settings.database_url) as session:
            return current_locale(session, settings, warehouse)
    finally:
        if own:
            warehouse.dispose()


def forget_cached() -> None:
    """Drop this process's resolved locale (after a change, and between tests)."""
    with _cache_lock:
        _cache.clear()


def _current_version(warehouse) -> int | None:
    try:
        return warehouse.current_version()
    except WarehouseError:
        return None


def update_locale(session: Session, actor: User | str, changes: dict, *,
                  ip: str | None = None) -> dict:
    """Set (a value) or clear (None or "": back to the environment's default) the locale
    fields in ``changes``; validates every value first, records one audit event, returns
    {field: [old, new]} of what changed. The caller commits."""
    if isinstance(actor, User) and not (actor.is_active and actor.has_role("admin")):
        raise AccessDenied("Only an admin can change the installation's settings.")
    unknown = sorted(set(changes) - set(SETTING_NAMES))
    if unknown:
        raise LocaleError(f"unknown locale setting {', '.join(unknown)}: the settings are "
                          f"{', '.join(SETTING_NAMES)}")
    cleaned: dict[str, str | None] = {}
    for field, value in changes.items():
        if value is not None and not isinstance(value, str):
            raise LocaleError(f"{field} must be a text or null, not {value!r}")
        value = (value or "").strip()
        cleaned[field] = _CHECKS[field](value) if value else None
    stored = stored_settings(session)
    changed = {}
    for field, value in cleaned.items():
        if stored.get(field) == value:
            continue
        changed[field] = [stored.get(field), value]
        row = session.get(InstallationSetting, SETTING_NAMES[field])
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(InstallationSetting(name=SETTING_NAMES[field], value=value,
                                            updated_by=_label(actor)))
        else:
            row.value, row.updated_by = value, _label(actor)
    if changed:
        audit.record(session, "settings_changed", actor=actor, target="locale",
                     detail=changed, ip=ip)
        forget_cached()
    return changed


def _label(actor: User | str) -> str:
    return actor.email if isinstance(actor, User) else str(actor)
