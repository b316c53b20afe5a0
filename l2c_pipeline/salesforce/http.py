"""HTTP sessions for talking to Salesforce: the configured CA bundle always wins.

`requests` lets the REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE environment variables override a
session's `verify` setting (they are set on many corporate machines and CI runners). A user who
configures SF_CA_BUNDLE means exactly that bundle, so this session re-applies it after requests
has merged the environment, and keeps everything else the environment says (proxies, no_proxy).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import requests

from .settings import SettingsError


class PinnedCASession(requests.Session):
    """A requests session whose TLS trust is exactly `ca_bundle` (or the system default), with a
    default timeout on every request (simple-salesforce sets none, so a stalled server would
    hang a sync forever)."""

    def __init__(
        self,
        ca_bundle: str | Path | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        on_call=None,
    ) -> None:
        super().__init__()
        self.default_timeout = timeout
        # A host that answers does so in seconds: waiting the whole read timeout for a
        # connection only delays telling the user that the URL is wrong.
        self.connect_timeout = connect_timeout
        # Called with the URL of every request the server received: answered, or timed out
        # waiting for the answer (Salesforce counts those too); not for refused connections.
        self.on_call = on_call
        if ca_bundle is not None:
            path = Path(ca_bundle)
            if not path.is_file():
                raise SettingsError(f"SF_CA_BUNDLE points at {path}, which is not a file")
            try:
                ssl.create_default_context(cafile=str(path))
            except ssl.SSLError:
                # Else every handshake fails later, blamed on the host.
                raise SettingsError(
                    f"SF_CA_BUNDLE points at {path}, which holds no PEM certificate"
                ) from None
            self.verify = str(path)

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None and self.default_timeout is not None:
            kwargs["timeout"] = (
                (min(self.connect_timeout, self.default_timeout), self.default_timeout)
                if self.connect_timeout
                else self.default_timeout
            )
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.exceptions.ReadTimeout:
            if self.on_call is not None:
                self.on_call(url)
            raise
        if self.on_call is not None:
            self.on_call(url)
        return response

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings
