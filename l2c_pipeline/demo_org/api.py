"""The Salesforce REST API subset the pipeline uses, answered from an OrgStore.

Pure request -> response logic (no sockets): OAuth token, versions, sobjects, describe,
query / queryAll with nextRecordsUrl paging, limits, Bulk API 2.0 query jobs, and the demo
org's own admin endpoints (/_demo/...). Errors use Salesforce's status codes and bodies, so
simple-salesforce raises the same exceptions it raises against a real org.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs

from .faults import FaultPlan, FaultSpecError
from .soql import SoqlError
from .store import OrgStore

log = logging.getLogger(__name__)

API_VERSIONS = [f"{v}.0" for v in range(31, 67)]
LATEST_VERSION = API_VERSIONS[-1]
DEFAULT_BATCH_SIZE = 2000
CURSOR_IDLE_SECONDS = 15 * 60  # Salesforce drops an idle query locator after 15 minutes
FINISHED_CURSOR_SECONDS = 120
MAX_OPEN_CURSORS = 50
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_midway: bool = False  # fault: close the connection half-way through the body
    delay: float = 0.0  # fault: answer only after this many seconds

    @classmethod
    def json(cls, status: int, payload, headers: dict | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload, separators=(",", ":")).encode(),
            {"Content-Type": "application/json;charset=UTF-8", **(headers or {})},
        )


def sf_error(status: int, code: str, message: str) -> Response:
    return Response.json(status, [{"message": message, "errorCode": code}])


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            client_id="3MVG9demo" + secrets.token_hex(16),
            client_secret=secrets.token_hex(24),
            username="integration@l2c-demo.example",
            password=secrets.token_urlsafe(12),
            security_token=secrets.token_hex(12),
        )


@dataclass
class _Cursor:
    table: str
    object_name: str
    columns: list[str]
    total: int
    last_used: float
    finished: bool = False


@dataclass
class _BulkJob:
    id: str
    operation: str
    object_name: str
    query: str
    created: datetime
    state: str = "UploadComplete"
    table: str | None = None
    columns: list[str] = field(default_factory=list)
    total: int = 0
    error: str | None = None


class DemoOrgApi:
    def __init__(
        self,
        store: OrgStore,
        *,
        credentials: Credentials | None = None,
        daily_api_budget: int = 100_000,
        faults: str = "",
    ) -> None:
        self.store = store
        self.credentials = credentials or Credentials.generate()
        self.daily_api_budget = daily_api_budget
        self.api_calls = 0
        self.token_requests = 0  # OAuth token requests: logins, refused or not
        self.faults = FaultPlan()
        self._tokens: set[str] = set()
        self._cursors: dict[str, _Cursor] = {}
        self._jobs: dict[str, _BulkJob] = {}
        self._lock = threading.Lock()
        self._job_threads: list[threading.Thread] = []
        self.jwt_public_key: str | None = None  # the connected app's certificate key (PEM)
        self.instance_url = ""  # set by the server once it knows its port
        if faults:
            self.add_faults(faults)

    def close(self) -> None:
        """Stop serving: wait for running Bulk jobs, so none is inside DuckDB when it closes."""
        for thread in list(self._job_threads):
            thread.join(timeout=30)

    # ---------------------------------------------------------------- tokens and faults
    def issue_token(self) -> str:
        token = f"{self.store.organization['Id'][:15]}!{secrets.token_urlsafe(32)}"
        with self._lock:
            self._tokens.add(token)
        return token

    def expire_sessions(self) -> None:
        with self._lock:
            self._tokens.clear()

    def add_faults(self, spec: str) -> None:
        budget = self.faults.add(spec)
        if budget is not None:
            self.daily_api_budget = budget

    # ---------------------------------------------------------------- dispatch
    def handle(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes
    ) -> Response:
        try:
            return self._route(
                method, path.rstrip("/") or "/", parse_qs(query_string), headers, body
            )
        except Exception:  # the server never crashes: an unexpected error is Salesforce's 500
            log.exception("demo org failed on %s %s", method, path)
            return sf_error(
                500,
                "UNKNOWN_EXCEPTION",
                f"An unexpected error occurred. Please include this ErrorId if you contact "
                f"support: {uuid.uuid4().hex[:8]}-{int(time.time()) % 100000} (demo org)",
            )

    def _route(self, method, path, params, headers, body) -> Response:
        parts = path.strip("/").split("/")
        if parts[:3] == ["services", "oauth2", "token"] and method == "POST":
            return self._token(body, headers)
        if parts[0] == "_demo":
            if not self._authorised(headers):
                return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            return self._admin(method, parts[1:], body)
        if parts[:2] != ["services", "data"]:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(parts) == 2:
            return Response.json(
                200,
                [
                    {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                    for v in API_VERSIONS
                ],
            )
        version = parts[2][1:] if parts[2].startswith("v") else ""
        if version not in API_VERSIONS:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if not self._authorised(headers):
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        rest = parts[3:]
        scopes = {"any"}
        if rest[:1] in (["query"], ["queryAll"]):
            scopes.add("query")
            if len(rest) > 1:
                scopes.add("query_more")
        elif rest[:1] == ["sobjects"]:
            scopes.add("describe")
        elif rest[:2] == ["jobs", "query"]:
            scopes.add("bulk")
            if rest[-1:] == ["results"]:
                scopes.add("bulk_results")
        elif rest[:1] == ["limits"]:
            scopes.add("limits")
        with self._lock:
            self.api_calls += 1
            used = self.api_calls
        limit_header = {
            "Sforce-Limit-Info": f"api-usage={min(used, self.daily_api_budget)}/{self.daily_api_budget}"
        }
        if used > self.daily_api_budget:
            response = sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            response.headers.update(limit_header)
            return response
        fault = self.faults.on_call(scopes)
        delay, drop = 0.0, False
        if fault is not None:
            if fault.kind in ("500", "503"):
                response = (
                    sf_error(
                        500, "UNKNOWN_EXCEPTION", "An unexpected error occurred (injected fault)"
                    )
                    if fault.kind == "500"
                    else sf_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
                )
                response.headers.update(limit_header)
                return response
            if fault.kind == "expire":
                self.expire_sessions()
                return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            delay = float(fault.value or 0) if fault.kind == "slow" else 0.0
            drop = fault.kind == "drop"
        response = self._data(method, version, rest, params, headers, body)
        response.headers.update(limit_header)
        response.delay, response.drop_midway = delay, drop
        return response

    def _authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        with self._lock:
            return scheme.lower() in ("bearer", "oauth") and token in self._tokens

    # ---------------------------------------------------------------- OAuth
    def _token(self, body: bytes, headers: dict[str, str]) -> Response:
        with self._lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        creds = self.credentials
        if grant == JWT_GRANT:
            return self._jwt_token(form.get("assertion", ""))
        if grant not in ("password", "client_credentials"):
            return Response.json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if form.get("client_id") != creds.client_id:
            return Response.json(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if not secrets.compare_digest(form.get("client_secret", ""), creds.client_secret):
            return Response.json(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        if grant == "password" and not (
            form.get("username") == creds.username
            and secrets.compare_digest(
                form.get("password", ""), creds.password + creds.security_token
            )
        ):
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "authentication failure"}
            )
        return self._token_answer()

    def _jwt_token(self, assertion: str) -> Response:
        """OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the connected app's key."""
        import jwt

        if self.jwt_public_key is None:
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "JWT bearer not enabled"}
            )
        try:
            claims = jwt.decode(
                assertion,
                self.jwt_public_key,
                algorithms=["RS256"],
                audience=self.instance_url,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.PyJWTError:
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "invalid assertion"}
            )
        if claims["iss"] != self.credentials.client_id:
            return Response.json(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if claims["sub"] != self.credentials.username:
            return Response.json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "user hasn't approved this consumer",
                },
            )
        return self._token_answer()

    def _token_answer(self) -> Response:
        token = self.issue_token()
        issued = str(int(time.time() * 1000))
        return Response.json(
            200,
            {
                "access_token": token,
                "instance_url": self.instance_url,
                "id": f"{self.instance_url}/id/{self.store.organization['Id']}/{self.store.default_actor or ''}",
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            },
        )

    # ---------------------------------------------------------------- data API
    def _data(self, method, version, rest, params, headers, body) -> Response:
        head = rest[0] if rest else ""
        if not rest and method == "GET":
            base = f"/services/data/v{version}"
            return Response.json(
                200,
                {
                    name: f"{base}/{name}"
                    for name in ("sobjects", "query", "queryAll", "limits", "jobs")
                },
            )
        if head == "sobjects" and method == "GET":
            return self._sobjects(version, rest[1:])
        if head in ("query", "queryAll") and method == "GET":
            include_deleted = head == "queryAll"
            batch = _batch_size(headers)
            if len(rest) == 1:
                soql = (params.get("q") or [""])[0]
                return self._query(version, soql, include_deleted, batch)
            return self._query_more(version, head, rest[1], batch)
        if head == "limits" and method == "GET":
            remaining = max(0, self.daily_api_budget - self.api_calls)
            return Response.json(
                200,
                {
                    "DailyApiRequests": {"Max": self.daily_api_budget, "Remaining": remaining},
                    "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self._jobs)},
                    "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                },
            )
        if rest[:2] == ["jobs", "query"]:
            return self._bulk(method, version, rest[2:], params, body)
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _sobjects(self, version: str, rest: list[str]) -> Response:
        store = self.store
        if not rest:
            return Response.json(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [
                        {
                            "name": m.name,
                            "label": m.label,
                            "keyPrefix": m.key_prefix,
                            "custom": m.custom,
                            "queryable": True,
                            "retrieveable": True,
                            "replicateable": True,
                            "deprecatedAndHidden": False,
                            "urls": {
                                "sobject": f"/services/data/v{version}/sobjects/{m.name}",
                                "describe": f"/services/data/v{version}/sobjects/{m.name}/describe",
                            },
                        }
                        for m in store.objects.values()
                    ],
                },
            )
        meta = store.resolve_object(rest[0])
        if meta is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if rest[1:] != ["describe"]:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        return Response.json(
            200,
            {
                "name": meta.name,
                "label": meta.label,
                "keyPrefix": meta.key_prefix,
                "custom": meta.custom,
                "queryable": True,
                "replicateable": True,
                "retrieveable": True,
                "fields": [
                    {
                        "name": name,
                        "label": name,
                        "type": field_type,
                        "soapType": _soap_type(field_type),
                        "filterable": field_type != "textarea",
                        "sortable": field_type != "textarea",
                        "custom": name.endswith("__c"),
                        "nillable": name != "Id",
                        "referenceTo": list(meta.references.get(name, ())),
                        "createable": name
                        not in ("Id", "CreatedDate", "SystemModstamp", "IsDeleted"),
                        "updateable": name
                        not in ("Id", "CreatedDate", "SystemModstamp", "IsDeleted"),
                    }
                    for name, field_type in meta.fields.items()
                ],
            },
        )

    def _query(self, version: str, soql: str, include_deleted: bool, batch: int) -> Response:
        try:
            compiled = self.store.compile(soql, include_deleted=include_deleted)
        except SoqlError as error:
            return sf_error(400, error.code, error.message)
        if not compiled.columns:
            total = self.store.count(compiled)
            self._after_query(compiled.object_name, served_records=False)
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        if compiled.aggregate:
            rows = self.store.aggregate(compiled)
            self._after_query(compiled.object_name, served_records=False)
            records = [{"attributes": {"type": "AggregateResult"}, **row} for row in rows]
            return Response.json(200, {"totalSize": len(records), "done": True, "records": records})
        table, total = self.store.open_cursor(compiled)
        self._after_query(compiled.object_name, served_records=True)
        cursor = _Cursor(table, compiled.object_name, compiled.columns, total, time.monotonic())
        locator = None
        if total > batch:
            locator = "01g" + secrets.token_hex(6)
            with self._lock:
                self._cursors[locator] = cursor
            self._expire_cursors()
        response = self._page(
            version, "queryAll" if include_deleted else "query", cursor, locator, 0, batch
        )
        if locator is None:
            self.store.close_cursor(table)
        return response

    def _query_more(self, version: str, endpoint: str, token: str, batch: int) -> Response:
        locator, _, offset_text = token.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or not offset_text.isdigit():
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = time.monotonic()
        response = self._page(version, endpoint, cursor, locator, int(offset_text), batch)
        if int(offset_text) + batch >= cursor.total:
            # Read to the end; kept a little while, since a client may re-ask for a page it lost.
            cursor.finished = True
        return response

    def _page(
        self, version, endpoint, cursor: _Cursor, locator, offset: int, batch: int
    ) -> Response:
        rows = self.store.read_cursor(
            cursor.table, cursor.object_name, cursor.columns, offset, batch
        )
        base = f"/services/data/v{version}/sobjects/{cursor.object_name}/"
        with_id = "Id" in cursor.columns
        id_index = cursor.columns.index("Id") if with_id else None
        records = []
        for row in rows:
            attributes = {"type": cursor.object_name}
            if with_id:
                attributes["url"] = base + row[id_index]
            record = {"attributes": attributes}
            record.update(zip(cursor.columns, row))
            records.append(record)
        done = offset + len(rows) >= cursor.total
        payload = {"totalSize": cursor.total, "done": done}
        if not done:
            payload["nextRecordsUrl"] = (
                f"/services/data/v{version}/{endpoint}/{locator}-{offset + batch}"
            )
        payload["records"] = records
        return Response.json(200, payload)

    def _after_query(self, object_name: str, *, served_records: bool) -> None:
        """Release records committed late on this object; a late-commit fault fires after a query
        that served records (not a COUNT()), stamped behind the newest record there is."""
        fault = self.faults.take_late(object_name) if served_records else None
        if fault is not None:
            meta = self.store.objects[object_name]
            cursor_field = next(
                (c for c in ("SystemModstamp", "CreatedDate") if meta.fields.get(c) == "datetime"),
                None,
            )
            if cursor_field:
                newest = self.store.newest(object_name, cursor_field)
                if newest is not None:
                    # Committed now, stamped behind what this query just served.
                    self.store.late_copy(object_name, newest, float(fault.value or 120))
        self.store.after_query(object_name)

    def _expire_cursors(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [
                k
                for k, c in self._cursors.items()
                if now - c.last_used
                > (FINISHED_CURSOR_SECONDS if c.finished else CURSOR_IDLE_SECONDS)
            ]
            while len(self._cursors) - len(stale) > MAX_OPEN_CURSORS:
                oldest = min(
                    (k for k in self._cursors if k not in stale),
                    key=lambda k: self._cursors[k].last_used,
                )
                stale.append(oldest)
            dropped = [self._cursors.pop(k) for k in stale]
        for cursor in dropped:
            self.store.close_cursor(cursor.table)

    # ---------------------------------------------------------------- Bulk API 2.0
    def _bulk(self, method, version, rest, params, body) -> Response:
        if not rest and method == "POST":
            try:
                request = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return sf_error(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
            operation = request.get("operation")
            if operation not in ("query", "queryAll"):
                return sf_error(400, "INVALIDJOB", f"Invalid operation: {operation!r}")
            soql = request.get("query") or ""
            try:
                compiled = self.store.compile(soql, include_deleted=operation == "queryAll")
            except SoqlError as error:
                return sf_error(400, error.code, error.message)
            if not compiled.columns:
                return sf_error(
                    400, "INVALIDJOB", "Aggregate queries are not supported by the Bulk API"
                )
            if self.faults.refuses_bulk(compiled.object_name):
                return sf_error(
                    400,
                    "INVALIDENTITY",
                    f"Entity '{compiled.object_name}' is not supported by the Bulk API.",
                )
            job = _BulkJob(
                id="750" + secrets.token_hex(7)[:12] + "AAA",
                operation=operation,
                object_name=compiled.object_name,
                query=soql,
                created=self.store.clock,
            )
            with self._lock:
                self._jobs[job.id] = job
            worker = threading.Thread(target=self._run_job, args=(job, compiled), daemon=True)
            self._job_threads = [t for t in self._job_threads if t.is_alive()] + [worker]
            worker.start()
            return Response.json(200, self._job_info(job, version))
        if not rest and method == "GET":
            return Response.json(
                200,
                {
                    "done": True,
                    "records": [self._job_info(j, version) for j in self._jobs.values()],
                },
            )
        job = self._jobs.get(rest[0]) if rest else None
        if job is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 1 and method == "GET":
            return Response.json(200, self._job_info(job, version))
        if len(rest) == 1 and method == "PATCH":
            job.state = "Aborted"
            return Response.json(200, self._job_info(job, version))
        if len(rest) == 1 and method == "DELETE":
            with self._lock:
                self._jobs.pop(job.id, None)
            if job.table:
                self.store.close_cursor(job.table)
            return Response(204)
        if rest[1:] == ["results"] and method == "GET":
            return self._bulk_results(job, params)
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _run_job(self, job: _BulkJob, compiled) -> None:
        job.state = "InProgress"
        try:
            job.table, job.total = self.store.open_cursor(compiled)
            job.columns = compiled.columns
            self._after_query(compiled.object_name, served_records=True)
            if job.state != "Aborted":
                job.state = "JobComplete"
        except Exception as error:  # reported through the job, as Salesforce does
            job.state, job.error = "Failed", str(error)

    def _job_info(self, job: _BulkJob, version: str) -> dict:
        return {
            "id": job.id,
            "operation": job.operation,
            "object": job.object_name,
            "createdById": self.store.default_actor,
            "createdDate": job.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "systemModstamp": job.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": job.total if job.state == "JobComplete" else 0,
            "retries": 0,
            "totalProcessingTime": 0,
            **({"errorMessage": job.error} if job.error else {}),
        }

    def _bulk_results(self, job: _BulkJob, params) -> Response:
        if job.state != "JobComplete":
            return sf_error(400, "API_ERROR", f"Job {job.id} is not complete (state {job.state})")
        try:
            size = int((params.get("maxRecords") or ["50000"])[0])
            locator = (params.get("locator") or [""])[0]
            offset = int(base64.b64decode(locator).decode()) if locator else 0
        except (ValueError, UnicodeDecodeError):
            return sf_error(400, "INVALIDLOCATOR", "The locator is not valid for this job")
        rows = self.store.read_cursor(
            job.table, job.object_name, job.columns, offset, size, bulk=True
        )
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job.columns)
        writer.writerows(rows)
        next_offset = offset + len(rows)
        next_locator = (
            base64.b64encode(str(next_offset).encode()).decode()
            if next_offset < job.total
            else "null"
        )
        return Response(
            200,
            out.getvalue().encode("utf-8"),
            {
                "Content-Type": "text/csv",
                "Sforce-Locator": next_locator,
                "Sforce-NumberOfRecords": str(len(rows)),
            },
        )

    # ---------------------------------------------------------------- admin
    def _admin(self, method: str, parts: list[str], body: bytes) -> Response:
        try:
            request = json.loads(body or b"{}") if method == "POST" else {}
        except json.JSONDecodeError:
            return Response.json(400, {"error": "the request body is not valid JSON"})
        try:
            if parts == ["state"] and method == "GET":
                return Response.json(200, self.state())
            if parts == ["faults"] and method == "POST":
                if request.get("clear"):
                    self.faults.clear()
                self.add_faults(request.get("spec", ""))
                return Response.json(
                    200,
                    {"faults": self.faults.describe(), "daily_api_budget": self.daily_api_budget},
                )
            if parts == ["mutations"] and method == "POST":
                return Response.json(200, self.apply(request))
        except (KeyError, ValueError, FaultSpecError) as error:
            return Response.json(400, {"error": str(error).strip("'\"")})
        return Response.json(404, {"error": "unknown demo-org endpoint"})

    def state(self) -> dict:
        return {
            "clock": self.store.clock.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "api_calls": self.api_calls,
            "token_requests": self.token_requests,
            "daily_api_budget": self.daily_api_budget,
            "objects": self.store.row_counts(include_deleted=True),
            "faults": self.faults.describe(),
        }

    def apply(self, batch: dict) -> dict:
        """One batch of org changes, applied in this order: advance, insert, update, delete,
        late, purge_history_months, touch. See the README for the format."""
        store, result = self.store, {}
        if "advance_seconds" in batch:
            store.advance(float(batch["advance_seconds"]))
        for object_name, records in (batch.get("insert") or {}).items():
            result.setdefault("inserted", {})[object_name] = store.insert(object_name, records)
        for object_name, changes in (batch.get("update") or {}).items():
            result.setdefault("updated", {})[object_name] = store.update(object_name, changes)
        for object_name, ids in (batch.get("delete") or {}).items():
            result.setdefault("deleted", {})[object_name] = store.delete(object_name, ids)
        for object_name, spec in (batch.get("late") or {}).items():
            result.setdefault("late", {})[object_name] = store.late_commit(
                object_name, spec.get("record", {}), float(spec.get("behind_seconds", 120))
            )
        if "purge_history_months" in batch:
            result["purged"] = store.purge_history(int(batch["purge_history_months"]))
        if "touch_fraction" in batch:
            result["touched"] = store.touch_random(
                float(batch["touch_fraction"]), int(batch.get("seed", 0))
            )
        result["clock"] = store.clock.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return result


def _batch_size(headers: dict[str, str]) -> int:
    options = headers.get("sforce-query-options", "")
    for option in options.split(","):
        key, _, value = option.strip().partition("=")
        if key.lower() == "batchsize" and value.isdigit():
            return max(200, min(2000, int(value)))
    return DEFAULT_BATCH_SIZE


def _soap_type(field_type: str) -> str:
    return {
        "id": "tns:ID",
        "reference": "tns:ID",
        "boolean": "xsd:boolean",
        "datetime": "xsd:dateTime",
        "date": "xsd:date",
        "double": "xsd:double",
        "currency": "xsd:double",
        "percent": "xsd:double",
        "int": "xsd:int",
    }.get(field_type, "xsd:string")
