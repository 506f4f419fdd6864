"""Country names as written in shop exports → ISO 3166-1 alpha-2 codes.

Real exports spell countries their own way ("EIRE", "RSA", "USA", "Czech Republic"). A name
is compared by its ``_key``: case, accents, punctuation ("U.S.A.", "Côte d’Ivoire", "Korea,
Rep.") and the word "the" ("The Netherlands", "Gambia, The") do not matter. It is resolved,
in this order, by:

1. ``CODELESS``: names that deliberately get no code, each with the reason
   ("Channel Islands" is Jersey + Guernsey, which have separate codes; "European Community"
   is not a country; "Unspecified" means the source recorded none);
2. ``EXPLICIT_CODES``: the alternative spellings of real exports, of the UN's and the
   World Bank's country lists and of pycountry's older names, each written out (and tested);
3. pycountry's codes (alpha-2, alpha-3) and official, common and short names, compared by
   the same key; then pycountry's own case-insensitive lookup (numeric codes).

Anything else is *unknown*: it gets no code and is reported (``CountryNormalisation.unknown``),
never fuzzy-guessed, because a wrong country on a map is worse than a flagged one.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pycountry

from analytics.errors import InvalidInput

#: Names that get no code on purpose, with the reason shown in the data-quality report.
CODELESS: dict[str, str] = {
    "channel islands": "Jersey (JE) and Guernsey (GG) together: no single ISO code",
    "european community": "not a country (the European Community / EU as a whole)",
    "european union": "not a country (the European Union as a whole)",
    "unspecified": "the source did not record a country",
    "unknown": "the source did not record a country",
    "": "the source did not record a country",
}

#: Alternative spellings → alpha-2 code, matched by ``_key`` (case, accents, punctuation and
#: "the" aside). Every entry is tested (tests/data/test_countries.py). The UK's constituent
#: countries and "Great Britain" are GB: ISO 3166-1 has no code for them.
EXPLICIT_CODES: dict[str, str] = {
    # British Isles
    "eire": "IE", "republic of ireland": "IE",
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "united kingdom of great britain and northern ireland": "GB",
    # the Americas
    "usa": "US", "u.s.a.": "US", "us": "US", "u.s.": "US", "united states of america": "US",
    "america": "US", "united states": "US",
    "bolivia": "BO", "bolivia (plurinational state of)": "BO",
    "venezuela": "VE", "venezuela (bolivarian republic of)": "VE", "venezuela, rb": "VE",
    "bahamas, the": "BS", "st kitts and nevis": "KN", "st. kitts and nevis": "KN",
    "st lucia": "LC", "st. lucia": "LC", "st vincent and the grenadines": "VC",
    "st. vincent and the grenadines": "VC", "curacao": "CW",
    "st. martin (french part)": "MF", "sint maarten": "SX", "st pierre and miquelon": "PM",
    "us virgin islands": "VI", "virgin islands (u.s.)": "VI",
    "british virgin islands": "VG", "falkland islands": "FK",
    # Europe
    "czech republic": "CZ", "czechia": "CZ",
    "holland": "NL", "the netherlands": "NL", "netherlands (kingdom of the)": "NL",
    "russia": "RU", "russian federation": "RU",
    "moldova": "MD", "republic of moldova": "MD", "moldova, republic of": "MD",
    "macedonia": "MK", "north macedonia": "MK", "republic of north macedonia": "MK",
    "former yugoslav republic of macedonia": "MK", "fyrom": "MK",
    "turkey": "TR", "türkiye": "TR", "turkiye": "TR",
    "vatican": "VA", "vatican city": "VA", "vatican city state": "VA", "holy see": "VA",
    "slovak republic": "SK", "kosovo": "XK",  # XK: user-assigned, in common use (EU, IMF)
    # Africa
    "rsa": "ZA", "cote d'ivoire": "CI", "côte d’ivoire": "CI", "ivory coast": "CI",
    "democratic republic of the congo": "CD", "congo, the democratic republic of the": "CD",
    "congo, dem. rep.": "CD", "dr congo": "CD", "drc": "CD", "congo-kinshasa": "CD",
    "republic of the congo": "CG", "congo, rep.": "CG", "congo-brazzaville": "CG",
    "tanzania": "TZ", "united republic of tanzania": "TZ", "tanzania, united republic of": "TZ",
    "swaziland": "SZ", "eswatini": "SZ", "cape verde": "CV", "cabo verde": "CV",
    "gambia, the": "GM", "egypt, arab rep.": "EG", "sao tome and principe": "ST",
    "reunion": "RE",
    # Asia and the Pacific
    "korea": "KR", "south korea": "KR", "republic of korea": "KR", "korea, republic of": "KR",
    "korea, rep.": "KR",
    "north korea": "KP", "democratic people's republic of korea": "KP",
    "korea, dem. people's rep.": "KP", "korea, democratic people's republic of": "KP",
    "myanmar (burma)": "MM", "burma": "MM", "myanmar": "MM",
    "vietnam": "VN", "viet nam": "VN",
    "iran": "IR", "iran (islamic republic of)": "IR", "iran, islamic rep.": "IR",
    "syria": "SY", "syrian arab republic": "SY",
    "laos": "LA", "lao pdr": "LA", "lao people's democratic republic": "LA",
    "east timor": "TL", "timor-leste": "TL", "timor leste": "TL",
    "uae": "AE", "u.a.e.": "AE", "emirates": "AE",
    "palestine": "PS", "state of palestine": "PS", "palestinian territories": "PS",
    "occupied palestinian territory": "PS", "west bank and gaza": "PS",
    "taiwan": "TW", "taiwan, province of china": "TW", "chinese taipei": "TW",
    "hong kong": "HK", "hong kong sar": "HK", "hong kong sar, china": "HK",
    "china, hong kong sar": "HK", "hong kong, china": "HK",
    "macau": "MO", "macao": "MO", "macao sar, china": "MO", "china, macao sar": "MO",
    "macau sar": "MO", "macao sar": "MO",
    "brunei": "BN", "yemen, rep.": "YE", "kyrgyz republic": "KG",
    "micronesia": "FM", "micronesia (federated states of)": "FM", "micronesia, fed. sts.": "FM",
}


class UnknownCountryError(InvalidInput):
    """A user-given country token matches no code; the message says which and why."""


@dataclass(frozen=True)
class CountryMatch:
    """How one name resolved: ``code`` is None for code-less and unknown names;
    ``reason`` says why a code-less name has none (None for unknown names)."""
    name: str
    code: str | None
    reason: str | None = None

    @property
    def unknown(self) -> bool:
        return self.code is None and self.reason is None


@dataclass(frozen=True)
class CountryNormalisation:
    """The resolution of every distinct name of a column.

    * ``codes``: name → alpha-2 code, for the names that resolved;
    * ``codeless``: name → reason, for names that get no code on purpose;
    * ``unknown``: names nothing matched, sorted (report them).
    """
    codes: dict[str, str]
    codeless: dict[str, str]
    unknown: tuple[str, ...]


_PERIODS = re.compile(r"[.\u00b7]")           # "U.S.A." → "usa"
_SEPARATORS = re.compile(r"[^\w]+|_")           # apostrophes, commas, brackets, dashes


def _key(name: str) -> str:
    """How names are compared: without accents, case, punctuation or the word "the"
    ("Côte d’Ivoire" and "cote d'ivoire", "The Gambia" and "Gambia, The" are one key).
    Only spelling is forgiven: letters are never guessed."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = _SEPARATORS.sub(" ", _PERIODS.sub("", text.replace("&", " and ")))
    return " ".join(word for word in text.split() if word != "the")


def _keyed(table: dict[str, str]) -> dict[str, str]:
    keyed: dict[str, str] = {}
    for name, value in table.items():
        key = _key(name)
        if keyed.setdefault(key, value) != value:
            raise ValueError(f"{name!r} has the key of a name with another value")
        keyed[key] = value
    return keyed


_CODELESS_KEYS = _keyed(CODELESS)
_EXPLICIT_KEYS = _keyed(EXPLICIT_CODES)


@functools.cache
def _pycountry_keys() -> dict[str, str]:
    """pycountry's codes and names by ``_key`` → alpha-2 code."""
    keys: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                keys.setdefault(_key(value), country.alpha_2)
    return keys


@functools.lru_cache(maxsize=4096)
def match_country(name: str) -> CountryMatch:
    """Resolve one country name as written in the data (see the module docstring)."""
    key = _key(name)
    if key in _CODELESS_KEYS:
        return CountryMatch(name, None, _CODELESS_KEYS[key])
    if key in _EXPLICIT_KEYS:
        return CountryMatch(name, _EXPLICIT_KEYS[key])
    if key in _pycountry_keys():
        return CountryMatch(name, _pycountry_keys()[key])
    try:
        return CountryMatch(name, pycountry.countries.lookup(
            " ".join(str(name).split()).casefold()).alpha_2)
    except LookupError:
        return CountryMatch(name, None)


def country_code(name: str) -> str | None:
    """The alpha-2 code of ``name``, or None when it has none (code-less or unknown)."""
    return match_country(name).code


def normalise_countries(names: Iterable[str]) -> CountryNormalisation:
    """Resolve the distinct names of a column; callers map codes back onto the rows."""
    codes: dict[str, str] = {}
    codeless: dict[str, str] = {}
    unknown: list[str] = []
    for name in dict.fromkeys(names):
        match = match_country(name)
        if match.code is not None:
            codes[name] = match.code
        elif match.reason is not None:
            codeless[name] = match.reason
        else:
            unknown.append(name)
    return CountryNormalisation(codes, codeless, tuple(sorted(unknown)))


def resolve_country(token: str) -> str:
    """A user-given token (an ISO code such as ``GB``/``GBR``, or a name as written in the
    data such as ``France`` or ``EIRE``) → its alpha-2 code.

    Raises UnknownCountryError with a readable message for code-less and unknown tokens.
    """
    text = " ".join(str(token).split())
    if not text:
        raise UnknownCountryError("An empty country was given")
    match = match_country(text)
    if match.code is not None:
        return match.code
    if match.reason is not None:
        raise UnknownCountryError(f"{text!r} has no country code ({match.reason}), so it "
                                  "cannot be used as a country")
    raise UnknownCountryError(f"Unknown country {text!r}: give an ISO 3166-1 code (GB, FR) "
                              "or a country name as written in the data")


def resolve_countries(tokens: str | Iterable[str]) -> tuple[str, ...]:
    """Resolve a comma-separated string (``"GB,France"``) or an iterable of tokens to
    distinct alpha-2 codes in the order given. Raises UnknownCountryError naming every token
    that does not resolve."""
    if isinstance(tokens, str):
        tokens = tokens.split(",")
    codes: list[str] = []
    problems: list[str] = []
    for token in tokens:
        if not str(token).strip():
            continue
        try:
            codes.append(resolve_country(token))
        except UnknownCountryError as exc:
            problems.append(str(exc))
    if problems:
        raise UnknownCountryError("; ".join(problems))
    return tuple(dict.fromkeys(codes))


def country_name(code: str) -> str:
    """A readable name for an alpha-2 code (``"GB"`` → ``"United Kingdom"``)."""
    record = pycountry.countries.get(alpha_2=code.upper())
    if record is None:
        return code
    return getattr(record, "common_name", None) or record.name
