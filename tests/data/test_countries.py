"""Country normaliser: explicit export names, code-less names with reasons, unknowns
reported and never guessed, and user tokens resolved to codes."""
import pytest

from analytics.countries import (UnknownCountryError, country_code, match_country,
                                 normalise_countries, resolve_countries, resolve_country)


@pytest.mark.parametrize("name, code", [
    ("EIRE", "IE"), ("RSA", "ZA"), ("USA", "US"), ("UK", "GB"), ("Czech Republic", "CZ"),
    ("Korea", "KR"), ("Russia", "RU"), ("United Kingdom", "GB"), ("Hong Kong", "HK"),
    ("  germany ", "DE"), ("United Arab Emirates", "AE"), ("FRA", "FR"), ("Turkey", "TR"),
])
def test_names_seen_in_exports_get_their_code(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize("name", ["Channel Islands", "European Community", "Unspecified"])
def test_codeless_names_have_no_code_and_a_reason(name):
    match = match_country(name)
    assert match.code is None
    assert match.reason
    assert not match.unknown


def test_channel_islands_reason_names_both_codes():
    assert "JE" in match_country("Channel Islands").reason
    assert "GG" in match_country("Channel Islands").reason


def test_unknown_names_are_reported_not_guessed():
    # "Germny" is one letter from Germany: a fuzzy matcher would say DE
    result = normalise_countries(["Germany", "Germny", "EIRE", "Unspecified", "Atlantis",
                                  "Germany"])
    assert result.codes == {"Germany": "DE", "EIRE": "IE"}
    assert result.codeless == {"Unspecified": "the source did not record a country"}
    assert result.unknown == ("Atlantis", "Germny")
    assert country_code("Germny") is None
    assert match_country("Germny").unknown


def test_user_tokens_resolve_codes_and_names():
    assert resolve_country("gb") == "GB"
    assert resolve_country("EIRE") == "IE"
    assert resolve_countries("GB,France, eire,GB") == ("GB", "FR", "IE")
    assert resolve_countries(["USA", "RSA"]) == ("US", "ZA")


def test_user_tokens_that_do_not_resolve_are_named_in_the_error():
    with pytest.raises(UnknownCountryError) as error:
        resolve_countries("GB,Narnia,Channel Islands")
    message = str(error.value)
    assert "Narnia" in message
    assert "Channel Islands" in message and "no country code" in message
    with pytest.raises(UnknownCountryError):
        resolve_country("  ")
