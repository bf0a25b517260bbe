"""Grade passback (LTI Assignment and Grade Services 2.0) through pylti1p3.

pylti1p3 signs the client assertion and speaks AGS; this module adds what a college needs
around it: access tokens cached in the DB per (platform, scope set) until shortly before
they expire (pylti1p3 caches per connector object and drops ``expires_in``), the line item
found or created by our ``resourceId``, the score's ``timestamp`` and Canvas's
``submitted_at`` taken from the attempt (not from when the outbox got round to it), and
errors classified as worth retrying or not.

Every call goes through the outbound policy's session (lti_tool.delivery.outbound: checked and
pinned addresses, a deadline, a size cap), and the bearer token only to the platform's
own hosts (``ServiceHosts``): a service URL - from a launch, or a line item id an answer
named - on any other host is refused before the token is sent.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction, upsert_insert
from lti_tool.delivery.outbound import OutboundError, OutboundPolicy, describe
from lti_tool.lti.platforms.family import score_extensions
from lti_tool.lti.registry import DbToolConf, ToolRegistration
from lti_tool.models import AccessToken, Platform

TOKEN_MARGIN = timedelta(seconds=60)
DEFAULT_TOKEN_SECONDS = 3600


class DeliveryError(Exception):
    """A delivery that failed; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 body: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.body = body  # the start of the LMS's answer, kept as the grade's provenance


def classify(status: int) -> bool:
    """Retry 5xx, 429 (throttled) and 401/403 (Canvas throttled with 403 before 429, and a
    token can expire in flight); other 4xx will fail the same way again."""
    return status >= 500 or status in (401, 403, 408, 429)


def call_lms(what: str, send: Callable[[], requests.Response]) -> requests.Response:
    """Make one HTTP call to an LMS; a network error or a non-2xx answer becomes a
    DeliveryError that says whether retrying can help."""
    try:
        resp = send()
    except OutboundError as exc:
        # The policy said no (an address, a size): the same call will fail the same way.
        raise DeliveryError(f"{what} refused by the outbound policy: {exc}",
                            retryable=False) from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"{what} unreachable: {describe(exc)}",
                            retryable=True) from exc
    if not resp.ok:
        raise DeliveryError(f"{what} refused: {resp.status_code} {resp.text[:200]}",
                            retryable=classify(resp.status_code), status=resp.status_code,
                            body=resp.text[:500])
    return resp


class CachingConnector(ServiceConnector):
    """pylti1p3's connector with tokens kept in our DB until shortly before expiry."""

    def __init__(self, registration: ToolRegistration, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], http: requests.Session) -> None:
        super().__init__(registration, http)
        self.sessions = sessions
        self.clock = clock
        self.platform_id = registration.platform_id
        self.service_hosts = registration.service_hosts
        self.lms_family = registration.lms_family

    def check_service_url(self, url: str, what: str) -> None:
        """Refuse, before any token is fetched or sent, a URL off the platform's hosts."""
        if not self.service_hosts.allows(url):
            raise DeliveryError(
                f"the {what} URL is not on one of the platform's registered hosts (its "
                "issuer, login, token and key set URLs and frame origins); the tool's "
                "access token is not sent there", retryable=False)

    def make_service_request(self, scopes, url, *args, **kwargs):  # type: ignore[override]
        """pylti1p3's service call (AGS line items and scores, the URLs an answer names
        included), after the host check."""
        self.check_service_url(url, "service")
        return super().make_service_request(scopes, url, *args, **kwargs)

    def get_access_token(self, scopes) -> str:  # type: ignore[override]
        # Short transactions only: no DB lock may be held while the LMS is called.
        key = hashlib.sha256("|".join(sorted(scopes)).encode()).hexdigest()
        now = self.clock()
        with transaction(self.sessions) as db:
            row = db.scalars(select(AccessToken).where(
                AccessToken.platform_id == self.platform_id,
                AccessToken.scope_key == key)).first()
            if row is not None and row.expires_at - TOKEN_MARGIN > now:
                return row.token
        token, lifetime = self._request_token(sorted(scopes))
        # Another worker may be storing its own token for these scopes right now: one
        # upsert, so both keep theirs (each is valid) and the last write is the cached one.
        table = AccessToken.__table__
        with transaction(self.sessions) as db:
            statement = upsert_insert(db, table).values(
                platform_id=self.platform_id, scope_key=key, token=token,
                expires_at=now + timedelta(seconds=lifetime))
            db.execute(statement.on_conflict_do_update(
                index_elements=[table.c.platform_id, table.c.scope_key],
                set_={"token": statement.excluded.token,
                      "expires_at": statement.excluded.expires_at}))
        return token

    def _request_token(self, scopes: list[str]) -> tuple[str, int]:
        """RFC 7523 client credentials, as pylti1p3 does it, but keeping ``expires_in``."""
        resp = call_lms("token endpoint", lambda: self.post_token_request(scopes))
        body = resp.json()
        return body["access_token"], int(body.get("expires_in") or DEFAULT_TOKEN_SECONDS)

    def post_token_request(self, scopes: list[str]) -> requests.Response:
        """One client-credentials request, whatever the LMS answers (the launch doctor
        reports the answer as it is; ``_request_token`` turns it into a token)."""
        registration = self._registration
        client_id = registration.get_client_id()
        auth_url = registration.get_auth_token_url()
        assert client_id and auth_url
        now = int(time.time())
        assertion = self.encode_jwt(
            {"iss": client_id, "sub": client_id,
             "aud": registration.get_auth_audience() or auth_url,
             "iat": now - 5, "exp": now + 60, "jti": "cpt-" + str(uuid.uuid4())},
            registration.get_tool_private_key() or "",
            {"kid": registration.get_kid()} if registration.get_kid() else {})
        return self._requests_session.post(auth_url, data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, "scope": " ".join(scopes)})


@dataclass(frozen=True)
class ScoreToSend:
    platform_id: int
    user_sub: str
    lineitem_url: str | None
    lineitems_url: str | None
    scopes: list[str]
    resource_id: str
    label: str
    score_given: float
    score_maximum: float
    timestamp: str
    submitted_at: str
    comment: str


class AgsClient:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 policy: OutboundPolicy) -> None:
        """``policy``: OutboundPolicy.from_settings(settings) - its deadline is the
        http_timeout_seconds of a whole call to the platform."""
        self.sessions = sessions
        self.clock = clock
        self.http = policy.session("cpt-lti (pylti1p3)")
        self.connectors: dict[int, CachingConnector] = {}
        # The last answer an LMS gave (pylti1p3 keeps no status): the score's, after a
        # publish, kept with the grade's provenance (delivery/provenance.py).
        self.last_response: requests.Response | None = None
        self.http.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = response

    def connector(self, platform_id: int) -> tuple[CachingConnector, str]:
        """The platform's connector (kept per worker pass) and its issuer."""
        if platform_id not in self.connectors:
            with transaction(self.sessions) as db:
                platform = db.get(Platform, platform_id)
                registration = (DbToolConf(db).find_registration_by_params(
                    platform.issuer, platform.client_id) if platform else None)
            if platform is None or registration is None:
                raise DeliveryError("the platform registration is gone or disabled",
                                    retryable=False)
            self.connectors[platform_id] = CachingConnector(registration, self.sessions,
                                                            self.clock, self.http)
        connector = self.connectors[platform_id]
        return connector, connector._registration.get_issuer() or ""

    def publish(self, score: ScoreToSend) -> dict[str, Any]:
        """Send one score; the LMS's answer (``status``, the start of ``body``), or a
        DeliveryError saying whether retrying can help."""
        self.last_response = None
        connector, _ = self.connector(score.platform_id)
        for url, what in ((score.lineitem_url, "AGS line item"),
                          (score.lineitems_url, "AGS line items")):
            if url:
                connector.check_service_url(url, what)
        service = AssignmentsGradesService(connector, {
            "scope": score.scopes, "lineitems": score.lineitems_url or "",
            "lineitem": score.lineitem_url or ""})
        grade = (Grade().set_score_given(score.score_given)
                 .set_score_maximum(score.score_maximum).set_timestamp(score.timestamp)
                 .set_activity_progress("Completed").set_grading_progress("FullyGraded")
                 .set_user_id(score.user_sub).set_comment(score.comment))
        extensions = score_extensions(connector.lms_family, score.submitted_at)
        if extensions:
            grade.set_extra_claims(extensions)
        try:
            if score.lineitem_url:
                result = service.put_grade(grade)
            elif score.lineitems_url:
                item = (LineItem().set_label(score.label).set_score_maximum(score.score_maximum)
                        .set_resource_id(score.resource_id).set_tag("cpt-practice"))
                result = service.put_grade(grade, item)  # found by resourceId or created
            else:
                raise DeliveryError("the link has no line item and no line items URL",
                                    retryable=False)
        except LtiServiceException as exc:
            status = exc.response.status_code
            raise DeliveryError(f"AGS refused: {status} {exc.response.text[:200]}",
                                retryable=classify(status), status=status,
                                body=exc.response.text[:500]) from exc
        except OutboundError as exc:
            raise DeliveryError(f"AGS refused by the outbound policy: {exc}",
                                retryable=False) from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"AGS unreachable: {describe(exc)}",
                                retryable=True) from exc
        except LtiException as exc:
            raise DeliveryError(str(exc), retryable=False) from exc
        answer = self.last_response
        return {"score_url": result.get("headers", {}).get("Location"),
                "status": answer.status_code if answer is not None else None,
                "body": answer.text[:500] if answer is not None else None}
