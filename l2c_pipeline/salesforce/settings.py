"""How to reach a Salesforce org: every setting, read from the environment only.

Secrets (access token, password, security token, client secret, JWT key) are never printed:
`describe()` gives a redacted view for logs and Dagster metadata.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from ..environment import number_setting

ENV = {
    "instance_url": "SF_INSTANCE_URL",
    "access_token": "SF_ACCESS_TOKEN",
    "username": "SF_USERNAME",
    "password": "SF_PASSWORD",
    "security_token": "SF_SECURITY_TOKEN",
    "client_id": "SF_CLIENT_ID",
    "client_secret": "SF_CLIENT_SECRET",
    "domain": "SF_DOMAIN",
    "jwt_private_key_file": "SF_JWT_PRIVATE_KEY_FILE",
    "ca_bundle": "SF_CA_BUNDLE",
    "api_version": "SF_API_VERSION",
    "timeout_seconds": "SF_TIMEOUT_SECONDS",
    "max_retries": "SF_MAX_RETRIES",
}
SECRET_FIELDS = frozenset({"access_token", "password", "security_token", "client_secret"})


class SettingsError(ValueError):
    """A connection setting that is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    domain: str | None = None
    jwt_private_key_file: str | None = None
    ca_bundle: str | None = None
    api_version: str = "62.0"
    timeout_seconds: float = 120.0
    max_retries: int = 5

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.describe().items())
        return f"SalesforceSettings({shown})"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SalesforceSettings:
        environ = os.environ if environ is None else environ
        values: dict = {}
        for name, variable in ENV.items():
            raw = environ.get(variable)
            if raw in (None, ""):
                continue
            if name == "timeout_seconds":
                try:
                    values[name] = float(raw)
                except ValueError:
                    values[name] = math.nan
                if not (math.isfinite(values[name]) and values[name] > 0):
                    raise SettingsError(
                        f"{variable} must be a number of seconds above 0, got {raw!r}"
                    )
            elif name == "max_retries":
                if not raw.isdigit():
                    raise SettingsError(f"{variable} must be a whole number, got {raw!r}")
                values[name] = int(raw)
            elif name == "instance_url":
                parts = urlsplit(raw.strip())
                if parts.scheme != "https" or not parts.hostname:
                    raise SettingsError(
                        f"{variable} must be your org's https:// address, such as "
                        f"https://acme.my.salesforce.com, got {raw!r}"
                    )
                values[name] = raw.strip()
            else:
                values[name] = raw
        settings = cls(**values)
        settings.auth_mode()  # fail early on an incomplete combination
        return settings

    def auth_mode(self) -> str:
        """token, client_credentials, password or jwt; SettingsError if none is complete."""
        if self.jwt_private_key_file and self.client_id and self.username:
            return "jwt"
        if self.username and self.password and self.client_id and self.client_secret:
            return "password"
        if self.client_id and self.client_secret and not self.username:
            return "client_credentials"
        if self.access_token and self.instance_url:
            return "token"
        raise SettingsError(
            "no complete Salesforce login in the environment: set SF_INSTANCE_URL and SF_ACCESS_TOKEN, "
            "or SF_CLIENT_ID and SF_CLIENT_SECRET (client credentials), or those plus SF_USERNAME, "
            "SF_PASSWORD and SF_SECURITY_TOKEN (password flow), or SF_CLIENT_ID, SF_USERNAME and "
            "SF_JWT_PRIVATE_KEY_FILE (JWT bearer)"
        )

    def can_log_in(self) -> bool:
        return self.auth_mode() != "token"

    @property
    def login_url(self) -> str:
        """Where the OAuth token endpoint lives: SF_DOMAIN as login/test, a My Domain, or a URL."""
        domain = (self.domain or "").strip().rstrip("/")
        if domain.startswith("https://"):
            return domain
        if domain.startswith("http://"):
            raise SettingsError("SF_DOMAIN must use https://")
        if domain in ("", "login", "test"):
            if not domain and self.instance_url:
                return self.instance_url.rstrip("/")
            return f"https://{domain or 'login'}.salesforce.com"
        return f"https://{domain}.salesforce.com"

    def describe(self) -> dict[str, str | None]:
        """The settings with every secret replaced by 'set' / None: safe for logs and metadata."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            shown[f.name] = ("set" if value else None) if f.name in SECRET_FIELDS else value
        return shown


def _number(environ, variable: str, default: float, what: str) -> float:
    return number_setting(variable, default, what, environ, error=SettingsError)


def sync_options(environ: dict[str, str] | None = None) -> dict:
    """The sync's own settings: the overlap re-read behind each watermark, and how often (and
    whether now) the record counts are reconciled with the org."""
    environ = os.environ if environ is None else environ
    overlap = _number(environ, "L2C_SYNC_OVERLAP_MINUTES", 10.0, "a number of minutes")
    every = environ.get("L2C_RECONCILE_EVERY_DAYS", "")
    if every.strip().lower() == "never":
        every_days = None
    else:
        every_days = _number(environ, "L2C_RECONCILE_EVERY_DAYS", 7.0, "a number of days or never")
    return {
        "overlap_seconds": int(overlap * 60),
        "reconcile_every_days": every_days,
        "reconcile_now": _switch(environ, "L2C_RECONCILE_NOW"),
    }


def _switch(environ, variable: str) -> bool:
    """An on/off setting: 1, true, yes, on or 0, false, no, off (unset or empty: off)."""
    raw = environ.get(variable, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{variable} must be 1 or 0 (true or false), got {raw!r}")
