"""A Salesforce connection that survives real orgs: retries, one re-login, API-limit awareness.

Built on simple-salesforce (REST queries, describe) and its Bulk API 2.0 client, over a
PinnedCASession. Every call is retried with exponential backoff on 5xx answers, timeouts and
dropped connections; an expired session triggers one new login (when the settings allow a
login); REQUEST_LIMIT_EXCEEDED stops with ApiLimitExceeded. API usage is read from the
Sforce-Limit-Info header of every answer.

Until the org has answered once, a refused connection, an unknown host or a TLS failure is not
retried: it is a wrong setting, said at once in one line naming the variable. A refused login or
the API limit stops the connection for good: later calls fail without reaching Salesforce, so a
wrong password is tried once per run (Salesforce locks a user after a few failed logins).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from .http import PinnedCASession
from .settings import SalesforceSettings, SettingsError

log = logging.getLogger(__name__)
T = TypeVar("T")
TOKEN_ONLY_EXPIRED = (
    "the Salesforce session expired and only SF_ACCESS_TOKEN is configured; set SF_CLIENT_ID and "
    "SF_CLIENT_SECRET (or a password or JWT login) so the pipeline can log in again"
)
TOKEN_REFUSED = (
    "Salesforce refused SF_ACCESS_TOKEN (INVALID_SESSION_ID): the token is wrong or has expired; "
    "get a new one, or set SF_CLIENT_ID and SF_CLIENT_SECRET (or a password or JWT login) so the "
    "pipeline logs in itself"
)
# Connecting takes a well-configured host well under a second; a wrong address is told fast.
CONNECT_TIMEOUT_SECONDS = 15.0
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_LOGIN_VARIABLES = {
    "client_credentials": "SF_CLIENT_ID and SF_CLIENT_SECRET",
    "password": "SF_USERNAME, SF_PASSWORD, SF_SECURITY_TOKEN, SF_CLIENT_ID and SF_CLIENT_SECRET",
    "jwt": "SF_CLIENT_ID, SF_USERNAME and SF_JWT_PRIVATE_KEY_FILE",
}
_SESSION_ORG = re.compile(r"^(00D[0-9A-Za-z]{12})!")


class ExtractionError(Exception):
    """A failure a person can act on; the message says what happened and what to do."""


class ApiLimitExceeded(ExtractionError):
    pass


class AuthenticationFailed(ExtractionError):
    pass


class ConnectionFailed(ExtractionError):
    """No answer from Salesforce: the host, the port, TLS or the network."""


class ServerFailing(ExtractionError):
    """Salesforce kept answering with a server error (5xx) after every retry."""


class BulkNotSupported(ExtractionError):
    pass


class QueryLocatorExpired(ExtractionError):
    """Salesforce no longer knows the query's cursor (idle too long, or too many open)."""


def _is_transient(error: BaseException) -> bool:
    if isinstance(
        error,
        (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
    ):
        return True
    return isinstance(error, SalesforceGeneralError) and error.status >= 500


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=host).geturl()


def describe_connection_error(error: requests.RequestException, url: str) -> str:
    """Why a request got no answer, in words a person can act on."""
    text = str(error)
    parts = urlsplit(url)
    # Host and port only: a URL may carry credentials (user:password@host).
    host = (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")
    if isinstance(error, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text:
            if "match" in text.lower() and "hostname" in text.lower():
                cause = "its TLS certificate is for another host name"
            else:
                cause = (
                    "its TLS certificate is not trusted (SF_CA_BUNDLE names the CA bundle to "
                    "trust, e.g. for a proxy that inspects TLS)"
                )
        elif "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
            cause = "it does not speak TLS on that port"
        else:
            cause = "the TLS handshake failed"
    elif isinstance(error, requests.exceptions.ConnectTimeout):
        cause = "no connection within the connect timeout (a wrong address or a firewall)"
    elif isinstance(error, requests.exceptions.Timeout):
        cause = "no answer within SF_TIMEOUT_SECONDS"
    elif "Connection refused" in text:
        cause = "connection refused (nothing listens on that port)"
    elif any(
        marker in text
        for marker in (
            "Name or service not known",
            "NameResolutionError",
            "nodename nor servname",
            "Temporary failure in name resolution",
            "getaddrinfo failed",
        )
    ):
        cause = "the host name does not resolve"
    elif "Network is unreachable" in text:
        cause = "the network is unreachable"
    elif isinstance(error, requests.exceptions.ChunkedEncodingError) or "reset" in text.lower():
        cause = "the connection dropped during the answer"
    else:
        cause = type(error).__name__
    return f"cannot reach Salesforce at {host}: {cause}"


def _error_code(error: SalesforceError) -> str:
    content = getattr(error, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode", "")
    return ""


class SalesforceClient:
    def __init__(
        self, settings: SalesforceSettings, *, on_retry: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self.session = PinnedCASession(
            settings.ca_bundle,
            timeout=settings.timeout_seconds,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            on_call=self._count_call,
        )
        self.session.hooks["response"].append(self._read_usage)
        self.api_calls = 0
        self.api_used: int | None = None
        self.api_max: int | None = None
        self.relogins = 0
        self.login_attempts = 0
        self._organization: dict | None = None
        self._answered = False  # has Salesforce answered at all (any HTTP answer)?
        self._accepted = False  # has the data API accepted this session once?
        # A refused login or the API limit: later calls raise it again without calling.
        self._stopped: ExtractionError | None = None
        self.on_retry = on_retry or (lambda message: log.warning(message))
        if settings.auth_mode() == "token":
            self._connect(settings.access_token, settings.instance_url)
        else:
            self._login()

    def close(self) -> None:
        """Close the kept-alive HTTPS connections (the server sees them end now, not at exit)."""
        self.session.close()

    # ---------------------------------------------------------------- connection
    def _count_call(self, url: str) -> None:
        # A call that timed out waiting for its answer has counted against the org too.
        if "/services/data" in url:
            self.api_calls += 1

    def _read_usage(self, response: requests.Response, *args, **kwargs) -> None:
        self._answered = True
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_used, self.api_max = int(match[1]), int(match[2])

    def _connect(self, token: str, instance_url: str) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.sf = Salesforce(
            instance_url=self.instance_url,
            session_id=token,
            session=self.session,
            version=self.settings.api_version,
        )

    def _login(self) -> None:
        settings = self.settings
        mode = settings.auth_mode()
        data = {"client_id": settings.client_id}
        if mode == "client_credentials":
            data.update(grant_type="client_credentials", client_secret=settings.client_secret)
        elif mode == "password":
            data.update(
                grant_type="password",
                client_secret=settings.client_secret,
                username=settings.username,
                password=(settings.password or "") + (settings.security_token or ""),
            )
        elif mode == "jwt":
            data = {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": self._jwt_assertion(),
            }
        else:
            raise AuthenticationFailed(TOKEN_ONLY_EXPIRED)
        url = f"{settings.login_url}/services/oauth2/token"
        self.login_attempts += 1
        try:
            response = self._retrying(lambda: self.session.post(url, data=data))
        except requests.RequestException as error:
            variable = "SF_DOMAIN" if settings.domain else "SF_INSTANCE_URL (or SF_DOMAIN)"
            raise self._stop(
                ConnectionFailed(
                    f"{describe_connection_error(error, url)} for the login; check {variable}"
                )
            ) from None
        if response.status_code != 200:
            try:
                body = response.json()
                reason = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                reason = f"HTTP {response.status_code}"
            raise self._stop(
                AuthenticationFailed(
                    f"Salesforce refused the {mode} login at {_without_credentials(url)} "
                    f"({reason}); check "
                    f"{_LOGIN_VARIABLES[mode]}. No other login is tried in this run"
                )
            ) from None
        answer = response.json()
        self._connect(answer["access_token"], answer["instance_url"])

    def _jwt_assertion(self) -> str:
        import jwt  # PyJWT, with cryptography for RS256

        settings = self.settings
        try:
            with open(settings.jwt_private_key_file, encoding="utf-8") as handle:
                key = handle.read()
        except OSError as error:
            raise SettingsError(
                f"SF_JWT_PRIVATE_KEY_FILE points at {settings.jwt_private_key_file}, which cannot "
                f"be read ({error.strerror})"
            ) from None
        audience = settings.login_url
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": audience,
            "exp": int(time.time()) + 180,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    def _stop(self, error: ExtractionError) -> ExtractionError:
        self._stopped = error
        return error

    def _should_retry(self, error: BaseException) -> bool:
        if not self._answered and isinstance(error, (requests.ConnectionError, requests.Timeout)):
            return False  # never answered: a wrong address or a dead host, said at once
        if isinstance(error, requests.exceptions.SSLError) and any(
            marker in str(error) for marker in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER")
        ):
            return False  # a certificate does not fix itself between two tries
        return _is_transient(error)

    def _retrying(self, call: Callable[[], T]) -> T:
        def before_sleep(state) -> None:
            error = state.outcome.exception()
            if isinstance(error, SalesforceGeneralError):  # its text is the answer's JSON
                what = f"HTTP {error.status}, {_error_code(error) or 'no error code'}"
            else:
                what = f"{type(error).__name__}: {str(error)[:160]}"
            self.on_retry(
                f"Salesforce call failed ({what}); retry "
                f"{state.attempt_number} of {self.settings.max_retries - 1} after "
                f"{state.next_action.sleep:.1f}s"
            )

        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.settings.max_retries)),
            wait=wait_exponential_jitter(multiplier=0.5, max=20),
            retry=retry_if_exception(self._should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(call)
        finally:
            self.last_attempts = retrying.statistics.get("attempt_number", 1)

    def call(self, make_call: Callable[[Salesforce], T]) -> T:
        """Run one API call with retries, one re-login on an expired session, limit detection."""
        if self._stopped is not None:
            raise type(self._stopped)(str(self._stopped))
        relogged = False
        while True:
            try:
                answer = self._retrying(lambda: make_call(self.sf))
                self._accepted = True
                return answer
            except requests.JSONDecodeError:
                raise ConnectionFailed(
                    f"{self.instance_url} does not answer as a Salesforce org (its answer is not "
                    "JSON); check SF_INSTANCE_URL"
                ) from None
            except requests.RequestException as error:
                url = getattr(error.request, "url", None) or self.instance_url
                if not self._accepted:
                    where = (
                        "check SF_INSTANCE_URL"
                        if self.settings.auth_mode() == "token"
                        else f"the login gave the instance URL {self.instance_url}"
                    )
                    raise ConnectionFailed(
                        f"{describe_connection_error(error, url)}; {where}"
                    ) from None
                tries = getattr(self, "last_attempts", 1)
                raise ConnectionFailed(
                    f"{describe_connection_error(error, url)} (tried {tries} time"
                    f"{'s' if tries != 1 else ''}; SF_MAX_RETRIES, SF_TIMEOUT_SECONDS)"
                ) from None
            except SalesforceGeneralError as error:
                if error.status < 500 or not self._accepted:
                    raise  # before any answer was accepted: perhaps not an org at all (the URL)
                tries = getattr(self, "last_attempts", 1)
                code = _error_code(error) or "no error code"
                raise ServerFailing(
                    f"Salesforce answered with a server error (HTTP {error.status}, {code}) "
                    f"{tries} time{'s' if tries != 1 else ''} in a row: the org's side is failing, "
                    "not a setting; the rows read so far are stored and the next run resumes "
                    "(SF_MAX_RETRIES sets how often a call is tried)"
                ) from None
            except SalesforceExpiredSession:
                if not self.settings.can_log_in():
                    raise self._stop(
                        AuthenticationFailed(
                            TOKEN_REFUSED if not self._accepted else TOKEN_ONLY_EXPIRED
                        )
                    ) from None
                if relogged:
                    raise self._stop(
                        AuthenticationFailed(
                            "Salesforce expired the session again right after a new login"
                        )
                    ) from None
                self.on_retry("Salesforce session expired; logging in again")
                self._login()
                self.relogins += 1
                relogged = True
            except SalesforceRefusedRequest as error:
                if _error_code(error) == "REQUEST_LIMIT_EXCEEDED":
                    usage = (
                        f"{self.api_used}/{self.api_max} calls used"
                        if self.api_max
                        else "the daily budget is used up"
                    )
                    raise self._stop(
                        ApiLimitExceeded(
                            f"Salesforce API request limit reached (DailyApiRequests: {usage}); "
                            "rows read so far are stored and the next run resumes from the stored "
                            "watermark"
                        )
                    ) from None
                raise

    # ---------------------------------------------------------------- API
    def organization(self) -> dict:
        """The org this connection reaches, {"id", "name", "is_sandbox"}, from its Organization
        record (one call per connection). A user who may not read Organization still gets the
        org id: a Salesforce session id starts with it."""
        if self._organization is None:
            try:
                answer = self.call(
                    lambda sf: sf.query("SELECT Id, Name, IsSandbox FROM Organization")
                )
                record = answer["records"][0]
                self._organization = {
                    "id": record["Id"],
                    "name": record.get("Name"),
                    "is_sandbox": record.get("IsSandbox"),
                }
            except (SalesforceError, IndexError, KeyError) as error:
                code = _error_code(error) if isinstance(error, SalesforceError) else "no record"
                if code in ("", "NOT_FOUND"):
                    # No Salesforce error body, or no such API version: not an org's answer.
                    status = getattr(error, "status", "?")
                    raise ConnectionFailed(
                        f"{self.instance_url} does not answer as a Salesforce org with REST API "
                        f"v{self.settings.api_version} (HTTP {status}); check SF_INSTANCE_URL "
                        "and SF_API_VERSION"
                    ) from None
                prefix = _SESSION_ORG.match(self.sf.session_id or "")
                if not prefix:
                    raise ExtractionError(
                        "cannot tell which org this is: the Organization record is not readable "
                        f"({type(error).__name__}) and the session id does not start with an org id"
                    ) from None
                self._organization = {"id": prefix[1], "name": None, "is_sandbox": None}
        return self._organization

    def describe(self, object_name: str) -> dict | None:
        """The object's describe, or None when the org has no such object."""
        try:
            return self.call(lambda sf: sf.restful(f"sobjects/{object_name}/describe"))
        except SalesforceResourceNotFound:
            return None

    def aggregate(self, soql: str) -> list[dict]:
        """An aggregate query's rows (AggregateResult: unnamed values as expr0, expr1, ...);
        deleted records are not counted."""
        answer = self.call(lambda sf: sf.query(soql, include_deleted=False))
        return [{k: v for k, v in r.items() if k != "attributes"} for r in answer["records"]]

    def count(self, soql: str, *, include_deleted: bool = True) -> int:
        return self.call(lambda sf: sf.query(soql, include_deleted=include_deleted))["totalSize"]

    def query_pages(
        self, soql: str, *, include_deleted: bool = True
    ) -> Iterator[tuple[list[dict], int]]:
        """REST query pages (2,000 records each) with the query's total size, each page fetched
        with its own retries."""
        page = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted))
        total = page["totalSize"]
        while True:
            yield (
                [{k: v for k, v in r.items() if k != "attributes"} for r in page["records"]],
                total,
            )
            if page.get("done", True):
                return
            next_url = page["nextRecordsUrl"]
            try:
                page = self.call(
                    lambda sf, url=next_url: sf.query_more(
                        url, identifier_is_url=True, include_deleted=include_deleted
                    )
                )
            except SalesforceMalformedRequest as error:
                if _error_code(error) == "INVALID_QUERY_LOCATOR":
                    locator = next_url.rsplit("/", 1)[-1]
                    raise QueryLocatorExpired(f"query locator {locator} expired") from None
                raise

    def bulk_pages(
        self,
        object_name: str,
        soql: str,
        *,
        include_deleted: bool = True,
        page_size: int = 50_000,
        poll_seconds: float = 0.5,
    ) -> Iterator[str]:
        """Bulk API 2.0 query job results, one CSV text per results page."""

        def bulk_client(sf: Salesforce) -> _Bulk2Client:
            headers = {"Authorization": "Bearer " + sf.session_id, "X-PrettyPrint": "1"}
            return _Bulk2Client(object_name, sf.bulk2_url, headers, sf.session)

        operation = "queryAll" if include_deleted else "query"
        try:
            job = self.call(lambda sf: bulk_client(sf).create_job(operation, soql))
        except SalesforceMalformedRequest as error:
            if _error_code(error) in ("INVALIDENTITY", "API_ERROR", "FeatureNotEnabled"):
                raise BulkNotSupported(
                    f"Bulk API 2.0 refuses {object_name}: {error.content}"
                ) from None
            raise
        job_id = job["id"]
        while True:
            state = self.call(lambda sf: bulk_client(sf).get_job(job_id, True))["state"]
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                raise ExtractionError(f"Bulk API 2.0 job {job_id} for {object_name} ended {state}")
            time.sleep(poll_seconds)
        locator = ""
        while True:
            result = self.call(
                lambda sf, at=locator: bulk_client(sf).get_query_results(job_id, at, page_size)
            )
            yield result["records"]
            locator = result["locator"]
            if not locator:
                return


__all__ = [
    "SalesforceClient",
    "ExtractionError",
    "ApiLimitExceeded",
    "AuthenticationFailed",
    "ConnectionFailed",
    "BulkNotSupported",
    "QueryLocatorExpired",
    "SalesforceOperationError",
]
