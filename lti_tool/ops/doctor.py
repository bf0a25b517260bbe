"""The launch doctor: is this LMS registration wired up? (`cpt-lti platform check`, and the
"Check this platform" button of the admin console.)

An LMS admin who registered the tool sees nothing until a launch or a grade fails. The
doctor asks each party what it would answer, in the order a launch and a grade need them,
and says for each thing that is wrong what to change and where:

1. the platform's key set (JWKS) answers, parses, and holds the key its last launch used;
2. the tool's own key set answers at the configured base URL, as the LMS fetches it;
3. the LMS grants the tool a token for each set of scopes it uses (grades, roster): a
   fresh client-credentials request, never the cached token, reported as answered;
4. a read-only grade (line item list) and roster call in the most recently launched
   course that named those services;
5. the login and launch URLs the LMS must have, and the platform's login URL;
6. framing and cookies for the platform's origin;
7. the clock skew between the LMS and this server, from the token endpoint's Date header.

Every URL comes from the platform row - which a rogue LMS may have named - and goes
through the outbound policy (lti_tool.delivery.outbound), as every other call does; a
service URL off the platform's own hosts gets no bearer token. What an LMS answered is
attacker-controlled text: it is cut to one short line (``_said``) here and escaped where
it is rendered. The run is kept per platform (``PlatformCheck``), so the console can
show the last result: ``last_check``.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from jwt import PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError, PyJWTError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import transaction, upsert_insert
from lti_tool.delivery.outbound import OutboundError, OutboundPolicy, describe
from lti_tool.lti.ags import CachingConnector
from lti_tool.lti.cookies import iframe_cookie
from lti_tool.lti.keys import KeyService, ToolKeyError
from lti_tool.lti.nrps import NRPS_MEDIA_TYPE, NRPS_SCOPE
from lti_tool.lti.registration import SCOPES
from lti_tool.lti.registry import ServiceHosts, ToolRegistration
from lti_tool.models import (
    Course,
    Deployment,
    Enrollment,
    LmsFamily,
    Platform,
    PlatformCheck,
    PlatformRegistration,
    ResourceLink,
)
from lti_tool.settings import Settings

Clock = Callable[[], datetime]
# web.framing.platform_origins, handed in by the caller (nothing below web imports it):
# (issuer, login URL, frame origins, LMS family) -> the origins that may frame the tool.
OriginsOf = Callable[[str, str, str, LmsFamily], list[str]]

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
# Beyond this the LMS's and this server's clocks disagree enough to break launches:
# pylti1p3 validates an id_token's iat and exp with no leeway.
MAX_SKEW_SECONDS = 60
SAID_LENGTH = 160  # what an LMS answered, as shown
DETAIL_LENGTH = 600  # a stored line
AGS_SCOPES = tuple(s for s in SCOPES if s != NRPS_SCOPE)
AGS_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
CHECKS = ("platform key set (JWKS)", "tool key set (JWKS)", "token for grades (AGS)",
          "token for roster (NRPS)", "grade service (AGS line items)",
          "roster service (NRPS)", "login and launch URLs", "framing and cookies",
          "clock skew")
EDIT_HINT = "(admin console: Edit the platform, or `cpt-lti platform add`)"


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report. ``fix`` says what to change when it failed."""

    name: str
    status: str  # OK, FAILED or SKIPPED (a check with nothing to check yet)
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status,
                "detail": self.detail[:DETAIL_LENGTH], "fix": self.fix[:DETAIL_LENGTH]}

    def line(self) -> str:
        text = f"{self.status.upper():7} {self.name}: {self.detail}"
        return text + (f" - fix: {self.fix}" if self.status == FAILED and self.fix else "")


@dataclass(frozen=True)
class DoctorReport:
    platform_id: int
    ran_at: datetime
    results: list[CheckResult]
    ran_by: str = ""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]


@dataclass(frozen=True)
class _Facts:
    """What the checks need from the database, read in one short transaction (no DB
    connection is held while an LMS is called)."""

    platform_id: int
    issuer: str
    client_id: str
    enabled: bool
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    origins: tuple[str, ...]
    last_launch_kid: str | None
    registration: ToolRegistration
    hosts: ServiceHosts
    tool_kid: str | None
    tool_key_error: str | None  # the signing key cannot be opened (sealing key)
    lineitems: tuple[str, str] | None  # (course label, URL)
    memberships: tuple[str, str] | None
    # A Dynamic Registration waiting for approval with other URLs for this platform.
    pending_urls: str | None = None


@dataclass
class _Answers:
    """What earlier checks learnt that later ones use."""

    tokens: dict[str, str] = field(default_factory=dict)
    token_response: tuple[requests.Response, datetime, datetime] | None = None


def _said(text: Any) -> str:
    """What the far end said, as one short printable line (escaped again where shown)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return flat if len(flat) <= SAID_LENGTH else flat[:SAID_LENGTH - 1] + "…"


def _short_scope(scope: str) -> str:
    return scope.rstrip("/").rsplit("/", 1)[-1]


def _course_label(course: Course) -> str:
    return _said(course.label or course.title or course.context_id)


def _read_facts(db: Session, platform: Platform, clock: Clock,
                origins_of: OriginsOf) -> _Facts:
    keys = KeyService(db, clock)
    active = keys.active()
    key, key_error = None, None
    if active is not None:
        try:
            key = (active.kid, keys.private_pem(active))
        except ToolKeyError as exc:  # reported by the token lines, with what to do
            key_error = str(exc.args[0])
    registration = ToolRegistration(platform, lambda: key)
    last_launch = (select(Enrollment.course_id, func.max(Enrollment.last_launch_at)
                          .label("at")).group_by(Enrollment.course_id).subquery())
    courses = (select(Course).join(Deployment, Course.deployment_id == Deployment.id)
               .join(last_launch, last_launch.c.course_id == Course.id)
               .where(Deployment.platform_id == platform.id))
    lineitems = db.execute(
        courses.add_columns(ResourceLink.ags_lineitems_url)
        .join(ResourceLink, ResourceLink.course_id == Course.id)
        .where(ResourceLink.ags_lineitems_url.is_not(None))
        .order_by(last_launch.c.at.desc(), ResourceLink.id.desc()).limit(1)).first()
    roster = db.scalars(courses.where(Course.nrps_url.is_not(None))
                        .order_by(last_launch.c.at.desc()).limit(1)).first()
    pending = db.scalars(select(PlatformRegistration).where(
        PlatformRegistration.issuer == platform.issuer,
        PlatformRegistration.client_id == platform.client_id)).first()
    proposed = None
    if pending is not None:
        changed = [f"{what} {new}" for what, new, old in (
            ("login", pending.auth_login_url, platform.auth_login_url),
            ("token", pending.auth_token_url, platform.auth_token_url),
            ("key set", pending.key_set_url, platform.key_set_url)) if new != old]
        proposed = ", ".join(changed) or None
    return _Facts(
        platform_id=platform.id, issuer=platform.issuer, client_id=platform.client_id,
        enabled=platform.enabled, auth_login_url=platform.auth_login_url,
        auth_token_url=platform.auth_token_url, key_set_url=platform.key_set_url,
        origins=tuple(dict.fromkeys(origins_of(platform.issuer, platform.auth_login_url,
                                               platform.frame_origins, platform.lms_family))),
        last_launch_kid=platform.last_launch_kid, registration=registration,
        hosts=ServiceHosts.of(platform), tool_kid=active.kid if active else None,
        tool_key_error=key_error,
        lineitems=((_course_label(lineitems[0]), lineitems[1]) if lineitems else None),
        memberships=(_course_label(roster), roster.nrps_url or "") if roster else None,
        pending_urls=proposed)


# -- fetching --------------------------------------------------------------------------------

class _Unanswered(Exception):
    """No HTTP answer: the policy refused the URL or the network failed (message is ours)."""


def _get(http: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    try:
        return http.get(url, **kwargs)
    except OutboundError as exc:
        raise _Unanswered(f"refused by the tool's outbound policy: {exc}") from exc
    except requests.RequestException as exc:
        raise _Unanswered(f"unreachable: {describe(exc)}") from exc


def _http_error(resp: requests.Response) -> str:
    """``HTTP 500`` plus the start of what the server said, for a failed answer."""
    body = _said(resp.text) if resp.content else ""
    return f"HTTP {resp.status_code}" + (f" ({body})" if body else "")


def _key_ids(resp: requests.Response) -> list[str]:
    """The kids of a JWKS answer, parsed by PyJWT; raises ValueError when it is none."""
    try:
        keyset = PyJWKSet.from_dict(resp.json())
    except (ValueError, PyJWKSetError, PyJWKError, PyJWTError, TypeError, AttributeError,
            KeyError) as exc:
        raise ValueError("not a JSON Web Key Set with a usable key") from exc
    return [str(k.key_id) for k in keyset.keys if k.key_id]


# -- the checks ------------------------------------------------------------------------------

def check_platform_keys(facts: _Facts, http: requests.Session) -> CheckResult:
    name = "platform key set (JWKS)"
    url = facts.key_set_url
    fix_url = (f"set the platform's key set URL to the LMS's public keyset {EDIT_HINT}; "
               "Canvas: https://<canvas host>/api/lti/security/jwks, Moodle: "
               "<moodle>/mod/lti/certs.php")
    try:
        resp = _get(http, url, headers={"Accept": "application/json"})
    except _Unanswered as exc:
        return CheckResult(name, FAILED, f"{url} {exc}", fix_url)
    if resp.status_code != 200:
        return CheckResult(name, FAILED, f"{url} answered {_http_error(resp)}", fix_url)
    try:
        kids = _key_ids(resp)
    except ValueError as exc:
        return CheckResult(name, FAILED, f"{url} answered {exc}", fix_url)
    held = f"{url} holds {len(kids)} key{'' if len(kids) == 1 else 's'}"
    if facts.last_launch_kid is None:
        return CheckResult(name, OK, f"{held}; its launch key not checked: no launch yet")
    if facts.last_launch_kid not in kids:
        return CheckResult(
            name, FAILED, f"{held}, not key {_said(facts.last_launch_kid)} that signed the "
            "last launch", "the LMS signs with a key this URL does not publish: check the "
            f"key set URL names this LMS's keyset {EDIT_HINT}")
    return CheckResult(name, OK, f"{held}, key {_said(facts.last_launch_kid)} of the last "
                                 "launch among them")


def check_tool_keys(facts: _Facts, http: requests.Session, settings: Settings) -> CheckResult:
    name = "tool key set (JWKS)"
    url = settings.url("/lti/jwks")
    fix_base = ("set CPT_LTI_BASE_URL (tool.base_url) to the https address the LMS reaches "
                "the tool at, and have the proxy pass /lti/ to the tool")
    if not settings.is_https and settings.environment == "production":
        return CheckResult(name, FAILED, f"{url} is not https", fix_base)
    try:
        resp = _get(http, url, headers={"Accept": "application/json"})
    except _Unanswered as exc:
        return CheckResult(name, FAILED, f"{url} {exc}", fix_base)
    if 300 <= resp.status_code < 400:
        where = _said(resp.headers.get("Location", "")) or "elsewhere"
        return CheckResult(name, FAILED, f"{url} redirects (HTTP {resp.status_code}) to "
                                         f"{where}; LMSs do not follow it", fix_base)
    if resp.status_code != 200:
        return CheckResult(name, FAILED, f"{url} answered {_http_error(resp)}", fix_base)
    try:
        kids = _key_ids(resp)
    except ValueError as exc:
        return CheckResult(name, FAILED, f"{url} answered {exc}", fix_base)
    if facts.tool_kid is None:
        return CheckResult(name, FAILED, "the tool has no signing key",
                           "run `cpt-lti init` (it creates the first key)")
    if facts.tool_kid not in kids:
        return CheckResult(name, FAILED, f"{url} does not hold the tool's signing key "
                                         f"{facts.tool_kid[:16]}: another server answers there",
                           fix_base)
    plain = "" if settings.is_https else " (http: development and test only)"
    return CheckResult(name, OK, f"{url} holds the signing key {facts.tool_kid[:16]}{plain}")


def _token_check(facts: _Facts, http: requests.Session, clock: Clock, answers: _Answers,
                 label: str, scopes: Sequence[str], service_fix: str) -> CheckResult:
    name = f"token for {label}"
    url = facts.auth_token_url
    if facts.tool_kid is None:
        return CheckResult(name, FAILED, "the tool has no signing key to sign the request",
                           "run `cpt-lti init`")
    if facts.tool_key_error:
        return CheckResult(name, FAILED, "the tool cannot sign the request",
                           facts.tool_key_error)
    # A fresh request: the connector's token cache (its sessions) is never consulted.
    connector = CachingConnector(facts.registration, None, clock, http)  # type: ignore[arg-type]
    sent = clock()
    try:
        resp = connector.post_token_request(sorted(scopes))
    except OutboundError as exc:
        return CheckResult(name, FAILED, f"{url} refused by the tool's outbound policy: "
                                         f"{exc}", f"check the token URL {EDIT_HINT}")
    except requests.RequestException as exc:
        return CheckResult(name, FAILED, f"{url} unreachable: {describe(exc)}",
                           f"check the token URL {EDIT_HINT} and that the LMS is up")
    if answers.token_response is None:
        answers.token_response = (resp, sent, clock())
    try:
        body = resp.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    if resp.status_code != 200 or not isinstance(body.get("access_token"), str):
        error = _said(body.get("error") or "")
        description = _said(body.get("error_description") or "")
        said = (f"HTTP {resp.status_code}" + (f", error {error}" if error else "")
                + (f" ({description})" if description else "")) if body else _http_error(resp)
        if error == "invalid_client" or resp.status_code == 401:
            fix = (f"the LMS does not accept client ID {_said(facts.client_id)} signed with "
                   "the tool's key: check the client ID (Canvas: the developer key's ID; "
                   "Moodle: the tool's Client ID) and that the LMS has the tool's public "
                   f"keyset URL {EDIT_HINT}")
        elif error == "invalid_scope":
            fix = service_fix
        else:
            fix = f"check the token URL {EDIT_HINT}"
        return CheckResult(name, FAILED, f"{url} answered {said}", fix)
    answers.tokens[label] = body["access_token"]
    granted_text = body.get("scope")
    granted = (set(granted_text.split()) if isinstance(granted_text, str)
               else set(scopes))  # RFC 6749 5.1: no scope means the ones asked for
    missing = [s for s in scopes if s not in granted]
    shown = ", ".join(sorted(_short_scope(s) for s in granted & set(scopes))) or "none"
    if missing:
        return CheckResult(name, FAILED, f"HTTP 200, granted {shown}; not granted: "
                           + ", ".join(_short_scope(s) for s in missing), service_fix)
    return CheckResult(name, OK, f"HTTP 200, granted {shown}")


def _service_check(facts: _Facts, http: requests.Session, answers: _Answers, name: str,
                   target: tuple[str, str] | None, token_label: str, accept: str,
                   count: Callable[[Any], int | None], noun: str) -> CheckResult:
    if target is None:
        return CheckResult(name, SKIPPED, "no launch has named this service in a course yet")
    course, url = target
    token = answers.tokens.get(token_label)
    if token is None:
        return CheckResult(name, SKIPPED, f"course {course}: no token for {token_label} "
                                          "(see that line)")
    if not facts.hosts.allows(url):
        return CheckResult(name, FAILED, f"course {course}: the service URL is not on the "
                           "platform's hosts, so the tool's token is not sent there",
                           "add the LMS's service origin as a frame origin "
                           f"{EDIT_HINT}, or check the platform's URLs")
    try:
        resp = _get(http, url, headers={"Authorization": f"Bearer {token}", "Accept": accept})
    except _Unanswered as exc:
        return CheckResult(name, FAILED, f"course {course}: {exc}",
                           "check that the LMS is up and reachable from the tool's server")
    if resp.status_code != 200:
        return CheckResult(name, FAILED, f"course {course}: {_http_error(resp)}",
                           "check that the service is enabled for the tool in the LMS, and "
                           "the tool's placement in that course")
    try:
        found = count(resp.json())
    except ValueError:
        found = None
    if found is None:
        return CheckResult(name, FAILED, f"course {course}: HTTP 200 but not the expected "
                                         "JSON", "check the LMS's service (an LMS upgrade?)")
    return CheckResult(name, OK, f"course {course}: HTTP 200, {found} {noun}")


def _count_items(body: Any) -> int | None:
    return len(body) if isinstance(body, list) else None


def _count_members(body: Any) -> int | None:
    members = body.get("members") if isinstance(body, dict) else None
    return len(members) if isinstance(members, list) else None


def check_urls(facts: _Facts, settings: Settings) -> CheckResult:
    name = "login and launch URLs"
    expected = (f"the LMS must have: login (initiation) URL {settings.url('/lti/login')}, "
                f"redirect URI and target link URI {settings.url('/lti/launch')}, public "
                f"keyset URL {settings.url('/lti/jwks')}")
    login = urlsplit(facts.auth_login_url)
    if login.scheme not in ("http", "https") or not login.hostname:
        return CheckResult(name, FAILED, f"the platform's login URL {facts.auth_login_url} is "
                           f"not a URL; {expected}", f"set the platform's login (OIDC auth) "
                           f"URL {EDIT_HINT}")
    if login.scheme != "https" and settings.environment == "production":
        return CheckResult(name, FAILED, f"the platform's login URL {facts.auth_login_url} is "
                           f"not https; {expected}", f"set the https login URL {EDIT_HINT}")
    if not settings.is_https and settings.environment == "production":
        return CheckResult(name, FAILED, f"the tool's base URL is not https; {expected}",
                           "set CPT_LTI_BASE_URL to the https address of the tool")
    waiting = (f"; a Dynamic Registration waiting for approval proposes {facts.pending_urls}"
               " (approve or reject it in the admin console)" if facts.pending_urls else "")
    return CheckResult(name, OK, f"platform login URL {facts.auth_login_url}; {expected}"
                       + waiting)


def _site(origin: str) -> tuple[str, str]:
    """(scheme, registrable part) of an origin, roughly: the last two labels of a name."""
    parts = urlsplit(origin)
    host = (parts.hostname or "").lstrip("*.")
    labels = host.split(".")
    numeric = host.replace(".", "").isdigit() or ":" in host
    return parts.scheme, host if numeric or len(labels) <= 2 else ".".join(labels[-2:])


def check_framing(facts: _Facts, settings: Settings) -> CheckResult:
    name = "framing and cookies"
    if not facts.enabled:
        return CheckResult(name, FAILED, "the platform is disabled: it is not among the "
                           "frame-ancestors, so the LMS shows a blank frame",
                           "enable the platform (admin console, or `cpt-lti platform enable`)")
    origins = " ".join(facts.origins) or "none"
    cookie = iframe_cookie(settings.is_https)
    flags = "; ".join(["SameSite=" + (cookie["samesite"] or "unset")]
                      + [k.capitalize() for k in ("secure", "partitioned") if cookie[k]])
    tool_site = _site(settings.base_url)
    cross = sorted(o for o in facts.origins if _site(o) != tool_site)
    if cross and not cookie["secure"]:
        text = (f"frame-ancestors allows {origins}; {', '.join(cross)} frame the tool "
                f"cross-site but the tool is served over http, so its cookie is {flags}")
        if settings.environment == "production":
            return CheckResult(name, FAILED, text, "serve the tool over https (cookies in a "
                               "cross-site frame need SameSite=None; Secure)")
        return CheckResult(name, OK, text + " (development only: Chromium's Lax+POST grace)")
    return CheckResult(name, OK, f"frame-ancestors allows {origins}; session cookie {flags}"
                       + ("; framed cross-site" if cross else ""))


def check_clock(answers: _Answers) -> CheckResult:
    name = "clock skew"
    if answers.token_response is None:
        return CheckResult(name, SKIPPED, "the token endpoint did not answer (see above)")
    resp, sent, received = answers.token_response
    raw = getattr(getattr(resp, "raw", None), "headers", None)
    values = (list(raw.getlist("Date")) if raw is not None and hasattr(raw, "getlist")
              else [resp.headers.get("Date")] if resp.headers.get("Date") else [])
    dates = []
    for value in values:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        if parsed.tzinfo is not None:
            dates.append(parsed.astimezone(UTC))
    if not dates:
        return CheckResult(name, SKIPPED, "the token endpoint sent no readable Date header")
    middle = sent + (received - sent) / 2
    # Several Date headers (a proxy's and the server's): the one furthest off counts.
    skew = max(((d - middle).total_seconds() for d in dates), key=abs)
    # The header has whole seconds: up to a second either way is no skew.
    shown = round(skew)
    if abs(skew) > MAX_SKEW_SECONDS:
        way = "ahead of" if skew > 0 else "behind"
        return CheckResult(name, FAILED, f"the LMS's clock is {abs(shown)} s {way} this "
                           f"server's (more than {MAX_SKEW_SECONDS} s)",
                           "synchronise both servers' clocks (NTP): id_tokens are checked "
                           "without leeway, so launches fail")
    return CheckResult(name, OK, f"{shown:+d} s between the LMS and this server "
                                 f"(limit {MAX_SKEW_SECONDS} s)")


# -- running ---------------------------------------------------------------------------------

def run_checks(sessions: sessionmaker[Session], settings: Settings, clock: Clock,
               platform_id: int, origins_of: OriginsOf, ran_by: str = "",
               budget_seconds: float | None = None) -> DoctorReport:
    """Run every check for one platform and store the result as its last check. Raises
    LookupError when there is no such platform. ``origins_of``: web.framing's
    ``platform_origins``, the list the tool's frame-ancestors header is built from.
    ``budget_seconds``: past it, the checks not yet started are skipped (a web request
    must end before the server's worker timeout; each call has the policy's deadline)."""
    with transaction(sessions) as db:
        platform = db.get(Platform, platform_id)
        if platform is None:
            raise LookupError(f"no platform {platform_id}")
        facts = _read_facts(db, platform, clock, origins_of)
    policy = OutboundPolicy.from_settings(settings)
    http = policy.session("cpt-lti launch doctor")
    answers = _Answers()
    ags_fix = ("enable grade sync for the tool in the LMS (Canvas: the developer key's "
               "lineitem, lineitem.readonly, result.readonly and score scopes; Moodle: IMS LTI "
               "Assignment and Grade Services: 'Use this service for grade sync and column "
               "management')")
    nrps_fix = ("enable the roster service for the tool in the LMS (Canvas: the developer "
                "key's contextmembership.readonly scope; Moodle: IMS LTI Names and Role "
                "Provisioning: 'Use this service to retrieve members' information')")
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        (CHECKS[0], lambda: check_platform_keys(facts, http)),
        (CHECKS[1], lambda: check_tool_keys(facts, http, settings)),
        (CHECKS[2], lambda: _token_check(facts, http, clock, answers, "grades (AGS)",
                                         AGS_SCOPES, ags_fix)),
        (CHECKS[3], lambda: _token_check(facts, http, clock, answers, "roster (NRPS)",
                                         (NRPS_SCOPE,), nrps_fix)),
        (CHECKS[4], lambda: _service_check(facts, http, answers, CHECKS[4], facts.lineitems,
                                           "grades (AGS)", AGS_CONTAINER, _count_items,
                                           "line items")),
        (CHECKS[5], lambda: _service_check(facts, http, answers, CHECKS[5],
                                           facts.memberships, "roster (NRPS)",
                                           NRPS_MEDIA_TYPE, _count_members,
                                           "members on the first page")),
        (CHECKS[6], lambda: check_urls(facts, settings)),
        (CHECKS[7], lambda: check_framing(facts, settings)),
        (CHECKS[8], lambda: check_clock(answers)),
    ]
    give_up = None if budget_seconds is None else time.monotonic() + budget_seconds
    results = []
    try:
        for name, run in checks:
            if give_up is not None and time.monotonic() >= give_up:
                results.append(CheckResult(
                    name, FAILED, f"not run: the checks before it took more than "
                    f"{budget_seconds:g} s (a slow or unreachable LMS)",
                    "see the lines above; `cpt-lti platform check` waits for every check"))
                continue
            results.append(run())
    finally:
        http.close()
    report = DoctorReport(platform_id, clock(), results, ran_by[:120])
    store(sessions, report)
    return report


def store(sessions: sessionmaker[Session], report: DoctorReport) -> None:
    """Keep ``report`` as the platform's last check (one row per platform, replaced)."""
    table = PlatformCheck.__table__
    with transaction(sessions) as db:
        if db.get(Platform, report.platform_id) is None:
            return  # deleted while the doctor ran
        statement = upsert_insert(db, table).values(
            platform_id=report.platform_id, ran_at=report.ran_at, ok=report.ok,
            results=[r.as_dict() for r in report.results], ran_by=report.ran_by)
        db.execute(statement.on_conflict_do_update(
            index_elements=[table.c.platform_id],
            set_={c: statement.excluded[c] for c in ("ran_at", "ok", "results", "ran_by")}))


def last_check(session: Session, platform_id: int) -> dict[str, Any] | None:
    """The platform's last doctor run, for a page: {"ran_at", "ok", "ran_by", "results":
    [{"name", "status", "detail", "fix"}]}, or None when it was never checked. The
    texts include what the LMS answered: render them escaped (Jinja autoescape)."""
    row = session.scalars(select(PlatformCheck).where(
        PlatformCheck.platform_id == platform_id)).first()
    if row is None:
        return None
    return {"ran_at": row.ran_at, "ok": row.ok, "ran_by": row.ran_by,
            "results": [dict(r) for r in row.results if isinstance(r, dict)]}
