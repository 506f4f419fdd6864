"""Country names as written in shop exports → ISO 3166-1 alpha-2 codes.

Real exports spell countries their own way ("EIRE", "RSA", "USA", "Czech Republic"). A name
is resolved, in this order, by:

1. ``CODELESS``: names that deliberately get no code, each with the reason
   ("Channel Islands" is Jersey + Guernsey, which have separate codes; "European Community"
   is not a country; "Unspecified" means the source recorded none);
2. ``EXPLICIT_CODES``: names seen in real exports that pycountry does not know;
3. pycountry's exact, case-insensitive lookup of a code (alpha-2, alpha-3) or an official,
   common or short name.

Anything else is *unknown*: it gets no code and is reported (``CountryNormalisation.unknown``),
never fuzzy-guessed, because a wrong country on a map is worse than a flagged one.
"""
from __future__ import annotations

import functools
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

#: Names seen in real exports that pycountry's exact lookup does not resolve.
EXPLICIT_CODES: dict[str, str] = {
    "eire": "IE",
    "republic of ireland": "IE",
    "rsa": "ZA",
    "usa": "US",
    "u.s.a.": "US",
    "us": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "czech republic": "CZ",
    "korea": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "turkey": "TR",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "macedonia": "MK",
    "brunei": "BN",
    "cape verde": "CV",
    "swaziland": "SZ",
    "ivory coast": "CI",
    "burma": "MM",
    "vatican": "VA",
    "vatican city": "VA",
    "macau": "MO",
    "palestine": "PS",
    "micronesia": "FM",
    "kosovo": "XK",  # user-assigned code in common use (EU, IMF); not in ISO 3166-1
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


def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


@functools.lru_cache(maxsize=4096)
def match_country(name: str) -> CountryMatch:
    """Resolve one country name as written in the data (see the module docstring)."""
    key = _key(name)
    if key in CODELESS:
        return CountryMatch(name, None, CODELESS[key])
    if key in EXPLICIT_CODES:
        return CountryMatch(name, EXPLICIT_CODES[key])
    try:
        return CountryMatch(name, pycountry.countries.lookup(key).alpha_2)
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
