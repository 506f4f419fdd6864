"""Amounts in analytics' sentences: a sign goes before "1,234"; a locale (anything with a
``money`` method, as core.formatting.Locale) writes them its own way."""
from __future__ import annotations

from analytics.models.forecast import forecast_sentence
from analytics.text import money_text
from core.formatting import Locale


def test_a_sign_or_a_locale():
    assert money_text(1234.4, "£") == "£1,234"
    assert money_text(-1234.4, "$") == "−$1,234"
    assert money_text(5.256, "", 2) == "5.26"
    euro = Locale(currency="EUR", number_style="1.234,56")
    assert money_text(-1234.4, euro) == "−1.234\u00a0€"
    assert money_text(5.256, euro, 2) == "5,26\u00a0€"


def test_a_model_sentence_in_the_installations_locale():
    summary = {"days": 30, "next_total": 393256.0, "next_lower": 315924.0,
               "next_upper": 470798.0, "previous_total": 371000.0, "previous_days": 30,
               "change": 0.06}
    text = forecast_sentence(summary, "revenue", Locale(currency="USD"))
    assert text.startswith("$393,256 expected over the next 30 days, between $315,924 and "
                           "$470,798")
