"""Amounts in the sentences analytics writes ("£1,234 expected …"). The caller passes the
currency as a sign ("£") or as an object that writes money its own way (the installation's
locale, ``core.formatting.Locale``, which analytics does not import): it then decides the
sign's place and the separators ("1.234 €")."""
from __future__ import annotations


def money_text(value: float, currency="", decimals: int = 0) -> str:
    """``value`` as an amount: ``currency.money(value, decimals)`` when it has one, else
    the sign before the number with "," thousands ("−£1,234")."""
    write = getattr(currency, "money", None)
    if callable(write):
        return write(value, decimals)
    sign = "−" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.{decimals}f}"
