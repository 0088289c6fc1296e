"""Database URLs and their secrets: a password and secret query values (``?password=``,
``sslpassword``, ``api_key``) masked in messages, scrubbed from a driver's error text,
dropped from a URL that is kept. Used by the study storages (``storage.py``) and by the
workbench's run store; imports neither Optuna nor a driver.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.engine import make_url

SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential")
"""A query parameter whose name contains one of these (``?password=``, ``sslpassword``,
``api_key``) holds a secret: masked in messages, dropped from a remembered URL."""
HIDDEN = "***"


def _is_secret(parameter: str) -> bool:
    return any(word in parameter.lower() for word in SECRET_WORDS)


def masked(url: str) -> str:
    """The URL with its password and secret query values hidden, for messages and
    listings."""
    try:
        parsed = make_url(url)
        query = {key: (HIDDEN if _is_secret(key) else value) for key, value in parsed.query.items()}
        return parsed.set(query=query).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not parse shows only its scheme
        return url.split(":", 1)[0] + "://..."


def without_password(url: str) -> str:
    """The URL with no password at all (nor secret query values), to keep: PostgreSQL
    then takes the password from PGPASSWORD or ~/.pgpass, as libpq does for every
    client."""
    parsed = make_url(url)
    query = {key: value for key, value in parsed.query.items() if not _is_secret(key)}
    # URL.set(password=None) would mean "leave unchanged"; URL is a named tuple.
    kept = parsed._replace(password=None).set(query=query)
    return kept.render_as_string(hide_password=False)


def secrets(url: str) -> list[str]:
    """The secret parts of a URL (its password, secret query values), to scrub from text
    that may quote the URL, such as a driver's error."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        return []
    found = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if _is_secret(key):
            found.extend([value] if isinstance(value, str) else list(value))
    plain = [str(secret) for secret in found if secret]
    return plain + [quote(secret, safe="") for secret in plain]  # as the URL spells it


def scrub(text: str, url: str) -> str:
    """``text`` with every secret of ``url`` replaced by ***."""
    for secret in sorted(secrets(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
