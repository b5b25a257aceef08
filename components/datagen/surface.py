"""How one latent value is spelled in a raw file: URL variants, query variants, zoned timestamps.

Real exports spell the same video and query many ways; silver must fold them back together.
Every variant here keeps the canonical identity under the contract's rules (lower-case host,
no scheme, no ``www.``, no trailing slash, no tracking parameters, identifying params sorted).
"""

from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta

HOST = "vidhub.example"
HOST_SPELLINGS = ("vidhub.example", "www.vidhub.example", "VidHub.example", "WWW.VIDHUB.EXAMPLE", "www.VidHub.Example")
TRACKING = ("utm_source", "utm_medium", "utm_campaign", "fbclid", "gclid", "si", "feature")
TRACKING_VALUES = ("newsletter", "share", "email", "social", "twitter", "abc123", "IwAR0xYz", "Cj0KCQ", "em-share")
# (suffix, offset in minutes): the same instant is written in several zones
ZONES = (("Z", 0), ("+00:00", 0), ("+02:00", 120), ("-05:00", -300), ("+05:30", 330), ("+09:00", 540), ("-08:00", -480))


def canonical_url(vid: str, shape: int) -> str:
    """The catalogue spelling of a video's URL."""
    return f"https://{HOST}/watch?v={vid}" if shape == 0 else f"https://{HOST}/v/{vid}"


def url_variant(rng: random.Random, vid: str, shape: int) -> str:
    """Another spelling of the same video: scheme, www., host case, trailing slash, tracking params."""
    scheme = "http" if rng.random() < 0.3 else "https"
    host = rng.choice(HOST_SPELLINGS)
    slash = "/" if rng.random() < 0.3 else ""
    params: list[str] = []
    for _ in range(rng.choice((0, 1, 1, 2, 2))):
        params.append(f"{rng.choice(TRACKING)}={rng.choice(TRACKING_VALUES)}")
    if shape == 0:
        params.insert(rng.randrange(len(params) + 1), f"v={vid}")
        return f"{scheme}://{host}/watch{slash}?{'&'.join(params)}"
    tail = f"?{'&'.join(params)}" if params else ""
    return f"{scheme}://{host}/v/{vid}{slash}{tail}"


def query_variant(rng: random.Random, text: str) -> str:
    """The same query as a user typed it: case, extra whitespace, decomposed Unicode (NFD)."""
    r = rng.random()
    if r < 0.8:
        return text
    if r < 0.85:
        return text.title()
    if r < 0.88:
        return text.upper()
    if r < 0.94:
        return f"  {text.replace(' ', '  ', 1)} " if " " in text else f" {text}\t"
    return unicodedata.normalize("NFD", text) if not text.isascii() else text.capitalize()


def format_ts(utc: datetime, zone: int, millis: bool) -> str:
    """ISO-8601 with an explicit zone: the same instant rendered in ZONES[zone]."""
    suffix, offset = ZONES[zone]
    local = utc + timedelta(minutes=offset)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{local.microsecond // 1000:03d}"
    return text + suffix


def random_zone(rng: random.Random) -> int:
    """Mostly UTC (two spellings), sometimes a local zone."""
    r = rng.random()
    return 0 if r < 0.4 else 1 if r < 0.7 else rng.randrange(2, len(ZONES))
