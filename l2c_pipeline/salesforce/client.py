"""A Salesforce connection that survives real orgs: retries, one re-login, API-limit awareness.

Built on simple-salesforce (REST queries, describe) and its Bulk API 2.0 client, over a
PinnedCASession. Every call is retried with exponential backoff on 5xx answers, timeouts and
dropped connections; an expired session triggers one new login (when the settings allow a
login); REQUEST_LIMIT_EXCEEDED stops with ApiLimitExceeded. API usage is read from the
Sforce-Limit-Info header of every answer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

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
from .settings import SalesforceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
TOKEN_ONLY_EXPIRED = (
    "the Salesforce session expired and only SF_ACCESS_TOKEN is configured; set SF_CLIENT_ID and "
    "SF_CLIENT_SECRET (or a password or JWT login) so the pipeline can log in again"
)
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_SESSION_ORG = re.compile(r"^(00D[0-9A-Za-z]{12})!")


class ExtractionError(Exception):
    """A failure a person can act on; the message says what happened and what to do."""


class ApiLimitExceeded(ExtractionError):
    pass


class AuthenticationFailed(ExtractionError):
    pass


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
        self.session = PinnedCASession(settings.ca_bundle, timeout=settings.timeout_seconds)
        self.session.hooks["response"].append(self._count_call)
        self.api_calls = 0
        self.api_used: int | None = None
        self.api_max: int | None = None
        self.relogins = 0
        self._organization: dict | None = None
        self._on_retry = on_retry or (lambda message: log.warning(message))
        if settings.auth_mode() == "token":
            self._connect(settings.access_token, settings.instance_url)
        else:
            self._login()

    # ---------------------------------------------------------------- connection
    def _count_call(self, response: requests.Response, *args, **kwargs) -> None:
        if "/services/data" in response.url:
            self.api_calls += 1
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
        try:
            response = self._retrying(lambda: self.session.post(url, data=data))
        except requests.RequestException as error:
            raise AuthenticationFailed(
                f"cannot reach the Salesforce login at {url}: {type(error).__name__}"
            ) from None
        if response.status_code != 200:
            try:
                body = response.json()
                reason = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                reason = f"HTTP {response.status_code}"
            raise AuthenticationFailed(
                f"Salesforce refused the {mode} login at {url} ({reason}); check the SF_* settings"
            ) from None
        answer = response.json()
        self._connect(answer["access_token"], answer["instance_url"])

    def _jwt_assertion(self) -> str:
        import jwt  # PyJWT, with cryptography for RS256

        settings = self.settings
        with open(settings.jwt_private_key_file, encoding="utf-8") as handle:
            key = handle.read()
        audience = settings.login_url
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": audience,
            "exp": int(time.time()) + 180,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    def _retrying(self, call: Callable[[], T]) -> T:
        def before_sleep(state) -> None:
            error = state.outcome.exception()
            self._on_retry(
                f"Salesforce call failed ({type(error).__name__}: {str(error)[:160]}); retry "
                f"{state.attempt_number} of {self.settings.max_retries - 1} after "
                f"{state.next_action.sleep:.1f}s"
            )

        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.settings.max_retries)),
            wait=wait_exponential_jitter(multiplier=0.5, max=20),
            retry=retry_if_exception(_is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(call)

    def call(self, make_call: Callable[[Salesforce], T]) -> T:
        """Run one API call with retries, one re-login on an expired session, limit detection."""
        relogged = False
        while True:
            try:
                return self._retrying(lambda: make_call(self.sf))
            except SalesforceExpiredSession:
                if not self.settings.can_log_in():
                    raise AuthenticationFailed(TOKEN_ONLY_EXPIRED) from None
                if relogged:
                    raise AuthenticationFailed(
                        "Salesforce expired the session again right after a new login"
                    ) from None
                self._on_retry("Salesforce session expired; logging in again")
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
                    raise ApiLimitExceeded(
                        f"Salesforce API request limit reached (DailyApiRequests: {usage}); rows read so far are "
                        "stored and the next run resumes from the stored watermark"
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
    "BulkNotSupported",
    "QueryLocatorExpired",
    "SalesforceOperationError",
]
