"""Country normaliser: explicit export names, code-less names with reasons, unknowns
reported and never guessed, and user tokens resolved to codes."""
import pytest

from analytics.countries import (EXPLICIT_CODES, UnknownCountryError, _key, _pycountry_keys,
                                 country_code, match_country, normalise_countries,
                                 resolve_countries, resolve_country)


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


# Every alternative spelling of EXPLICIT_CODES, with its code written out here (not read from
# the table): the UN's and the World Bank's lists, pycountry's older names, real exports.
SPELLINGS = [
    # British Isles: the constituent countries have no ISO code of their own, so GB
    ("EIRE", "IE"), ("Republic of Ireland", "IE"), ("UK", "GB"), ("U.K.", "GB"),
    ("Great Britain", "GB"), ("Britain", "GB"), ("England", "GB"), ("Scotland", "GB"),
    ("Wales", "GB"), ("Northern Ireland", "GB"),
    ("United Kingdom of Great Britain and Northern Ireland", "GB"),
    # the Americas
    ("USA", "US"), ("U.S.A.", "US"), ("US", "US"), ("U.S.", "US"),
    ("United States of America", "US"), ("America", "US"), ("United States", "US"),
    ("Bolivia", "BO"), ("Bolivia (Plurinational State of)", "BO"), ("Venezuela", "VE"),
    ("Venezuela (Bolivarian Republic of)", "VE"), ("Venezuela, RB", "VE"),
    ("Bahamas, The", "BS"), ("St Kitts and Nevis", "KN"), ("St. Kitts and Nevis", "KN"),
    ("St Lucia", "LC"), ("St. Lucia", "LC"), ("St Vincent and the Grenadines", "VC"),
    ("St. Vincent and the Grenadines", "VC"), ("Curacao", "CW"),
    ("St. Martin (French part)", "MF"), ("Sint Maarten", "SX"),
    ("St Pierre and Miquelon", "PM"), ("US Virgin Islands", "VI"),
    ("Virgin Islands (U.S.)", "VI"), ("British Virgin Islands", "VG"),
    ("Falkland Islands", "FK"),
    # Europe
    ("Czech Republic", "CZ"), ("Czechia", "CZ"), ("Holland", "NL"), ("The Netherlands", "NL"),
    ("Netherlands (Kingdom of the)", "NL"), ("Russia", "RU"), ("Russian Federation", "RU"),
    ("Moldova", "MD"), ("Republic of Moldova", "MD"), ("Moldova, Republic of", "MD"),
    ("Macedonia", "MK"), ("North Macedonia", "MK"), ("Republic of North Macedonia", "MK"),
    ("Former Yugoslav Republic of Macedonia", "MK"), ("FYROM", "MK"), ("Turkey", "TR"),
    ("Türkiye", "TR"), ("Turkiye", "TR"), ("Vatican", "VA"), ("Vatican City", "VA"),
    ("Vatican City State", "VA"), ("Holy See", "VA"), ("Slovak Republic", "SK"),
    ("Kosovo", "XK"),
    # Africa
    ("RSA", "ZA"), ("Cote d'Ivoire", "CI"), ("Côte d’Ivoire", "CI"), ("Ivory Coast", "CI"),
    ("Democratic Republic of the Congo", "CD"), ("Congo, The Democratic Republic of the", "CD"),
    ("Congo, Dem. Rep.", "CD"), ("DR Congo", "CD"), ("DRC", "CD"), ("Congo-Kinshasa", "CD"),
    ("Republic of the Congo", "CG"), ("Congo, Rep.", "CG"), ("Congo-Brazzaville", "CG"),
    ("Tanzania", "TZ"), ("United Republic of Tanzania", "TZ"),
    ("Tanzania, United Republic of", "TZ"), ("Swaziland", "SZ"), ("Eswatini", "SZ"),
    ("Cape Verde", "CV"), ("Cabo Verde", "CV"), ("Gambia, The", "GM"),
    ("Egypt, Arab Rep.", "EG"), ("Sao Tome and Principe", "ST"), ("Reunion", "RE"),
    # Asia and the Pacific
    ("Korea", "KR"), ("South Korea", "KR"), ("Republic of Korea", "KR"),
    ("Korea, Republic of", "KR"), ("Korea, Rep.", "KR"), ("North Korea", "KP"),
    ("Democratic People's Republic of Korea", "KP"), ("Korea, Dem. People's Rep.", "KP"),
    ("Korea, Democratic People's Republic of", "KP"), ("Myanmar (Burma)", "MM"),
    ("Burma", "MM"), ("Myanmar", "MM"), ("Vietnam", "VN"), ("Viet Nam", "VN"),
    ("Iran", "IR"), ("Iran (Islamic Republic of)", "IR"), ("Iran, Islamic Rep.", "IR"),
    ("Syria", "SY"), ("Syrian Arab Republic", "SY"), ("Laos", "LA"), ("Lao PDR", "LA"),
    ("Lao People's Democratic Republic", "LA"), ("East Timor", "TL"), ("Timor-Leste", "TL"),
    ("Timor Leste", "TL"), ("UAE", "AE"), ("U.A.E.", "AE"), ("Emirates", "AE"),
    ("Palestine", "PS"), ("State of Palestine", "PS"), ("Palestinian Territories", "PS"),
    ("Occupied Palestinian Territory", "PS"), ("West Bank and Gaza", "PS"), ("Taiwan", "TW"),
    ("Taiwan, Province of China", "TW"), ("Chinese Taipei", "TW"), ("Hong Kong", "HK"),
    ("Hong Kong SAR", "HK"), ("Hong Kong SAR, China", "HK"), ("China, Hong Kong SAR", "HK"),
    ("Hong Kong, China", "HK"), ("Macau", "MO"), ("Macao", "MO"), ("Macao SAR, China", "MO"),
    ("China, Macao SAR", "MO"), ("Macau SAR", "MO"), ("Macao SAR", "MO"), ("Brunei", "BN"),
    ("Yemen, Rep.", "YE"), ("Kyrgyz Republic", "KG"), ("Micronesia", "FM"),
    ("Micronesia (Federated States of)", "FM"), ("Micronesia, Fed. Sts.", "FM"),
]


@pytest.mark.parametrize("name, code", SPELLINGS)
def test_alternative_spellings_get_their_code(name, code):
    assert country_code(name) == code
    assert resolve_country(name) == code


def test_every_explicit_spelling_is_tested_here():
    assert {_key(name) for name in EXPLICIT_CODES} <= {_key(name) for name, _ in SPELLINGS}


@pytest.mark.parametrize("name, code", [
    ("CÔTE D’IVOIRE", "CI"), ("cote d ivoire", "CI"), ("Côte d'Ivoire", "CI"),
    ("THE NETHERLANDS", "NL"), ("Netherlands, The", "NL"), ("The Gambia", "GM"),
    ("the united states", "US"), ("TÜRKIYE", "TR"), ("Curaçao", "CW"), ("Réunion", "RE"),
    ("Aland Islands", "AX"), ("Trinidad & Tobago", "TT"), ("Bosnia & Herzegovina", "BA"),
    ("Saint Barthelemy", "BL"), ("Guinea Bissau", "GW"), ("  korea,  rep. ", "KR"),
])
def test_case_accents_punctuation_and_the_do_not_matter(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize("name", ["Germny", "Kongo", "Corea", "Ivory", "Great Britian",
                                  "Congo Democratic", "Dutch"])
def test_near_misses_stay_unknown(name):
    assert match_country(name).unknown


def test_explicit_keys_do_not_contradict_pycountry():
    """A spelling whose key is also one of pycountry's names must give the same code."""
    names = _pycountry_keys()
    clashes = {name: (code, names[_key(name)]) for name, code in EXPLICIT_CODES.items()
               if _key(name) in names and names[_key(name)] != code}
    assert clashes == {}
