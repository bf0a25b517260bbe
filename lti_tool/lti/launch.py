"""OIDC login and id_token launch through pylti1p3, ending in a plain ``LaunchContext``.

pylti1p3 does the protocol; this module adds what it leaves out - one-time nonces in the DB,
RS256-only signatures, required exp/iat, the azp rule, timeouts and caching on the
platform's JWKS - and turns every failure into one of the closed set in ``errors.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from flask import Response
from pylti1p3.contrib.flask import (
    FlaskCookieService,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy.orm import Session

from lti_tool.delivery.outbound import describe
from lti_tool.lti import claims, errors
from lti_tool.lti.cookies import iframe_cookie
from lti_tool.lti.http import JWKS_MAX_BYTES, lms_session
from lti_tool.lti.platforms.family import LmsFamily, reported_family
from lti_tool.lti.registry import (
    AmbiguousPlatformError,
    DbToolConf,
    ServiceHosts,
    ToolRegistration,
)
from lti_tool.lti.storage import DbLaunchDataStorage, OneTimeNonceSessionService
from lti_tool.settings import Settings

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
ALLOWED_ALGORITHMS = ("RS256",)
SUPPORTED_MESSAGES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest",
                      "LtiSubmissionReviewRequest")
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id",
                "lti_deployment_id", "lti_storage_target")
# Anyone may start a login, and its parameters are stored with the state until it expires:
# each is bounded (generously: Canvas's lti_message_hint is a signed JWT of about 1 KB),
# and so is the number of logins one client address can keep waiting (issue 15: 20
# anonymous logins added 27 MB). Past the cap a client's oldest logins are forgotten - by
# then long finished - rather than the newest refused: a campus behind one NAT address
# logs in by the hundred at exam time.
LOGIN_PARAM_LIMITS = {"iss": 255, "client_id": 255, "lti_deployment_id": 255,
                      "login_hint": 2048, "lti_message_hint": 4096,
                      "target_link_uri": 2048, "lti_storage_target": 64}
LOGIN_STATES_PER_CLIENT = 2000  # rows: each login keeps a nonce and its state's parameters
# A platform's key set that failed is not fetched again for this long (per process):
# launches fail at once with keyset_unavailable instead of each waiting out the deadline.
JWKS_FAILURE_SECONDS = 30.0
# One fetch of a key set at a time per process; other launches wait this long for it.
JWKS_WAIT_SECONDS = 2.0
# An unknown kid refetches the key set (the platform may have rotated) at most this often:
# tokens with made-up kids must not turn each launch into a fetch.
JWKS_REFRESH_SECONDS = 10.0
PURGE_EVERY = 20
STORAGE_STATE_FIELD = "lti_storage_state"
STORAGE_NONCE_FIELD = "lti_storage_nonce"


@dataclass(frozen=True)
class LaunchContext:
    """Everything the rest of the tool may know about a launch - no claims, no pylti1p3."""

    launch_id: str
    message_type: str
    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str
    sub: str
    lti_roles: tuple[str, ...]
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    context_id: str | None = None
    context_label: str | None = None
    context_title: str | None = None
    resource_link_id: str | None = None
    resource_link_title: str | None = None
    target_link_uri: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    ags_lineitems_url: str | None = None
    ags_lineitem_url: str | None = None
    ags_scopes: tuple[str, ...] = ()
    nrps_url: str | None = None
    locale: str | None = None
    platform_product: str | None = None
    deep_linking: dict[str, Any] | None = None
    for_user_sub: str | None = None  # submission review: whose work to show
    # The kid of the platform key that signed this id_token (the launch doctor checks the
    # platform's key set still holds it).
    signing_kid: str | None = None

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == "LtiDeepLinkingRequest"

    @property
    def reported_family(self) -> LmsFamily | None:
        """The LMS family the launch says it comes from (``tool_platform``); only the
        platform row's stored family decides how the tool behaves."""
        return reported_family(self.platform_product)


@dataclass(frozen=True)
class PlatformStorageLogin:
    """LTI Client Side postMessage storage: the browser must store state and nonce in the
    platform's frame before going on to the platform's auth URL (no cookie needed)."""

    target: str
    origin: str
    state: str
    nonce: str
    redirect_url: str
    response: Response  # carries the state cookie too, for browsers that keep it


@dataclass(frozen=True)
class PlatformStorageCheck:
    """A cookie-less launch to finish by reading state and nonce back from the platform."""

    target: str
    origin: str
    state: str
    nonce: str
    id_token: str


class _TtlCache:
    """A small per-process cache with expiry. Only what is safe to hold in several
    processes at once goes here: public key sets (the DB copy is the shared one; a rotated
    platform key is refetched on an unknown kid) and the PEMs made from them."""

    def __init__(self, size: int = 256) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        item = self._items.get(key)
        if item is None or item[0] <= time.monotonic():
            return None
        return item[1]

    def put(self, key: Any, value: Any, seconds: float) -> None:
        with self._lock:
            if len(self._items) >= self._size:
                self._items.clear()
            self._items[key] = (time.monotonic() + seconds, value)


_KEYSETS = _TtlCache()
_PEMS = _TtlCache()
_JWKS_FAILURES = _TtlCache()  # key set URL -> why its last fetch failed
_JWKS_REFRESHED = _TtlCache()  # key set URL -> True while a forced refetch is recent
_JWKS_FETCHING: dict[str, threading.Lock] = {}
_JWKS_FETCHING_GUARD = threading.Lock()


def _fetch_lock(url: str) -> threading.Lock:
    with _JWKS_FETCHING_GUARD:
        if len(_JWKS_FETCHING) > 1024:  # platforms come and go; idle locks can be dropped
            for key in [k for k, lock in _JWKS_FETCHING.items() if not lock.locked()]:
                del _JWKS_FETCHING[key]
        return _JWKS_FETCHING.setdefault(url, threading.Lock())


def forget_keyset_failures() -> None:
    """Clear the per-process memory of failed key-set fetches (tests; an operator who
    fixed a platform can also just wait JWKS_FAILURE_SECONDS)."""
    _JWKS_FAILURES._items.clear()
    _JWKS_REFRESHED._items.clear()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ToolCookieService(FlaskCookieService):
    """State cookies that survive an LMS iframe: SameSite=None; Secure; Partitioned (CHIPS)."""

    def __init__(self, request: FlaskRequest, secure: bool) -> None:
        super().__init__(request)
        # Behind a TLS-terminating proxy the request looks like http; the public base URL
        # says what the browser sees.
        self._secure = secure or bool(request.is_secure())

    def update_response(self, response: Response) -> None:
        for key, data in self._cookie_data_to_set.items():
            response.set_cookie(key=key, value=data["value"], max_age=data["exp"],
                                **iframe_cookie(self._secure))


class ToolMessageLaunch(FlaskMessageLaunch):
    """pylti1p3's launch with each validation step mapped to our error set."""

    storage: DbLaunchDataStorage
    jwks_cache_seconds: int

    def _who(self) -> dict[str, str | None]:
        body = self._jwt.get("body", {}) if isinstance(self._jwt, dict) else {}
        aud = body.get("aud") if isinstance(body, dict) else None
        client = aud[0] if isinstance(aud, list) and aud else aud
        iss = body.get("iss") if isinstance(body, dict) else None
        return {"issuer": iss if isinstance(iss, str) else None,
                "client_id": client if isinstance(client, str) else None}

    storage_verified: bool = False

    def validate_state(self):
        if not self._get_request_param("id_token"):
            raise errors.BadTokenError("the launch request has no id_token")
        state = self._get_request_param("state")
        if state and self._cookie_service.get_cookie(state) == state:
            # The state cookie matches: that is all pylti1p3's check would conclude, after a
            # needless read of a "state already validated" marker (we never write it).
            return self
        if state:
            # No state cookie: accept the state only if the browser read it back from the
            # platform's storage frame, where only this tool's origin could have put it.
            params = self._session_service.get_state_params(state)
            if (isinstance(params, dict) and params.get("lti_storage_target")
                    and self._get_request_param(STORAGE_STATE_FIELD) == state):
                self.storage_verified = True
                return self
        try:
            return super().validate_state()
        except LtiException as exc:
            raise errors.translate("state", exc) from exc

    def validate_jwt_format(self):
        try:
            super().validate_jwt_format()
        except LtiException as exc:
            raise errors.translate("jwt_format", exc) from exc
        if not isinstance(self._jwt.get("body"), dict) or not isinstance(
                self._jwt.get("header"), dict):
            raise errors.BadTokenError("id_token header and body must be JSON objects")
        # Before any claim is used to look up the platform, its key or deployment.
        claims.check_envelope(self._jwt["body"], self._who())
        return self

    def validate_nonce(self):
        nonce = self._jwt["body"].get("nonce")
        if self.storage_verified and self._get_request_param(STORAGE_NONCE_FIELD) != nonce:
            raise errors.StaleStateError("the nonce kept by the platform's storage does not "
                                         "match the launch")
        if not nonce:
            raise errors.ReplayedNonceError(
                "nonce is missing, unknown or already used", **self._who())
        # Burnt in save_launch_data, the last step: only a token whose signature, audience
        # and deployment all check out can use up a nonce, and on SQLite the write lock
        # this takes is held for the recording of the launch only, not for its checks.
        return self

    def _consume_nonce(self) -> None:
        try:
            super().validate_nonce()
        except LtiException as exc:
            raise errors.translate("nonce", exc, who=self._who()) from exc

    def validate_registration(self):
        body = self._jwt["body"]
        if not body.get("iss"):
            raise errors.MissingClaimError("the id_token has no iss claim")
        if not body.get("aud"):
            raise errors.MissingClaimError("the id_token has no aud claim", **self._who())
        if isinstance(self._tool_config, DbToolConf):
            self._tool_config.expect_deployment(body.get(CLAIM + "deployment_id"))
        try:
            super().validate_registration()
        except (AmbiguousPlatformError, LtiException) as exc:
            who = self._who()
            config = self._tool_config
            raise errors.translate("registration", exc, who=who, disabled=lambda: (
                isinstance(config, DbToolConf)
                and config.is_disabled(who["issuer"], who["client_id"]))) from exc
        aud = body["aud"]
        client_id = self.get_client_id()
        azp = body.get("azp")
        # OIDC Core 3.1.3.7 / LTI 1.3 5.1.2: several audiences need azp, and azp must be us.
        if isinstance(aud, list) and len(aud) > 1 and not azp:
            raise errors.WrongAudienceError("several audiences but no azp claim", **self._who())
        if azp is not None and azp != client_id:
            raise errors.WrongAudienceError(f"azp {azp!r} is not the client ID", **self._who())
        return self

    # -- signature ------------------------------------------------------------------------
    def _jwks_cache_key(self, url: str) -> str:
        return "jwks-" + hashlib.sha256(url.encode()).hexdigest()

    def _cached_keyset(self, key_set_url: str) -> Any:
        cached = _KEYSETS.get(key_set_url)
        if cached:
            return cached
        cached = self.storage.get_value(self._jwks_cache_key(key_set_url))
        if cached:
            _KEYSETS.put(key_set_url, cached, self.jwks_cache_seconds)
        return cached

    def fetch_public_key(self, key_set_url: str, force: bool = False):
        """The platform's key set: cached (per process and in the DB), else fetched - by
        one launch at a time per key set, within the outbound deadline; a failure is
        remembered for JWKS_FAILURE_SECONDS so a broken platform costs each launch
        nothing but the refusal, and cannot hold every server thread (issue 15)."""
        if not force or _JWKS_REFRESHED.get(key_set_url):
            cached = self._cached_keyset(key_set_url)
            if cached:
                return cached
        self._raise_if_failed_recently(key_set_url)
        lock = _fetch_lock(key_set_url)
        if not lock.acquire(timeout=JWKS_WAIT_SECONDS):
            raise errors.KeysetUnavailableError(
                "the platform's key set is being fetched by another launch, which has "
                "not had an answer yet", **self._who())
        try:
            # Whoever held the lock may have just fetched it, or failed to.
            if not force or _JWKS_REFRESHED.get(key_set_url):
                cached = self._cached_keyset(key_set_url)
                if cached:
                    return cached
            self._raise_if_failed_recently(key_set_url)
            try:
                keyset = self._download_keyset(key_set_url)
            except errors.KeysetUnavailableError as exc:
                _JWKS_FAILURES.put(key_set_url, exc.detail, JWKS_FAILURE_SECONDS)
                raise
            if force:
                _JWKS_REFRESHED.put(key_set_url, True, JWKS_REFRESH_SECONDS)
        finally:
            lock.release()
        self.storage.set_value(self._jwks_cache_key(key_set_url), keyset,
                               self.jwks_cache_seconds)
        _KEYSETS.put(key_set_url, keyset, self.jwks_cache_seconds)
        return keyset

    def _raise_if_failed_recently(self, key_set_url: str) -> None:
        failed = _JWKS_FAILURES.get(key_set_url)
        if failed:
            raise errors.KeysetUnavailableError(
                f"{failed} (a recent fetch failed; it is tried again within "
                f"{JWKS_FAILURE_SECONDS:g} seconds)", **self._who())

    def _download_keyset(self, key_set_url: str) -> dict[str, Any]:
        try:
            resp = self._requests_session.get(key_set_url)
            resp.raise_for_status()
            keyset = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise errors.KeysetUnavailableError(
                f"the platform keyset at {key_set_url} could not be fetched: "
                f"{describe(exc)}", **self._who()) from exc
        if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
            raise errors.KeysetUnavailableError(f"{key_set_url} is not a JSON Web Key Set",
                                                **self._who())
        return keyset

    def get_public_key(self):
        # Turning a JWK into a PEM costs more than checking the signature with it; the
        # result is kept per key set URL, kid and the key's own JSON (a rotated key under
        # the same kid is a new entry).
        assert isinstance(self._registration, ToolRegistration)
        header = self._jwt.get("header", {})
        url = self._registration.get_key_set_url() or ""
        keyset = self._registration.get_key_set() or _KEYSETS.get(url)
        if keyset:
            match = next((k for k in keyset.get("keys", []) if isinstance(k, dict)
                          and k.get("kid") == header.get("kid")
                          and k.get("alg", "RS256") == header.get("alg")), None)
            if match is not None:
                cache_key = (url, json.dumps(match, sort_keys=True))
                found = _PEMS.get(cache_key)
                if found is None:
                    self._registration.set_key_set({"keys": [match]})
                    found = super().get_public_key()
                    _PEMS.put(cache_key, found, 24 * 3600)
                return found
        try:
            return super().get_public_key()
        except LtiException as exc:
            if errors.UNKNOWN_KEY_TEXT not in str(exc):
                raise
        # Unknown kid: the platform may have rotated since we cached its JWKS. Refetch once.
        self._registration.set_key_set(self.fetch_public_key(url, force=True))
        return super().get_public_key()

    def validate_jwt_signature(self):
        header = self._jwt["header"]
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise errors.BadTokenError(f"signature algorithm {alg!r} is not allowed; "
                                       f"LTI 1.3 requires RS256", **self._who())
        if not header.get("kid"):
            raise errors.UnknownKeyError("the id_token header has no kid", **self._who())
        try:
            return super().validate_jwt_signature()
        except errors.LaunchError:
            raise
        except LtiException as exc:
            raise errors.translate("signature", exc, who=self._who(),
                                   kid=header.get("kid")) from exc

    def validate_deployment(self):
        try:
            return super().validate_deployment()
        except LtiException as exc:
            raise errors.translate("deployment", exc, who=self._who(), deployment_id=self._jwt[
                "body"].get(CLAIM + "deployment_id")) from exc

    def save_launch_data(self):
        """Burn the nonce (see validate_nonce). Keep the launch body only where it is read
        back: the Deep Linking answer (by launch id). pylti1p3 also stores a "state
        validated" marker, which only its own cookie-less re-validation reads - a path the
        one-time nonce closes anyway."""
        self._consume_nonce()
        if self._jwt["body"].get(CLAIM + "message_type") == "LtiDeepLinkingRequest":
            self._session_service.save_launch_data(self._launch_id, self._jwt["body"])
        return self

    def validate_message(self):
        body = self._jwt["body"]
        message_type = body.get(CLAIM + "message_type")
        # Signed, so from the platform: now every claim read below and in _context gets
        # its type and size checked (pylti1p3's validators index into them as they are).
        claims.check_message(body, self._who())
        if body.get(CLAIM + "version") != "1.3.0":
            raise errors.UnsupportedMessageError(
                f"LTI version {body.get(CLAIM + 'version')!r} is not 1.3.0", **self._who())
        try:
            super().validate_message()
        except LtiException as exc:
            raise errors.translate("message", exc, who=self._who(),
                                   message_type=message_type) from exc
        if message_type not in SUPPORTED_MESSAGES:
            raise errors.UnsupportedMessageError(
                f"message type {message_type!r} is not handled by this tool yet",
                **self._who())
        return self


class _LazySession:
    """Stands in for the requests session pylti1p3 wants at construction; the real one is
    made only if a request is actually sent (a JWKS fetch, rarely)."""

    def __init__(self, make: Callable[[], requests.Session]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)


class LtiEdge:
    """The two halves of an LTI 1.3 launch for one request, over one DB session."""

    def __init__(self, session: Session, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.tool_conf = DbToolConf(session, defer_key=True)
        self.storage = DbLaunchDataStorage(session, clock, settings.launch_state_seconds)
        self._http: requests.Session | None = None

    @property
    def http(self) -> requests.Session:
        """Made when first used (a JWKS fetch): building a requests session on every
        launch cost more than the signature check. Only key sets are fetched with it,
        hence their small size cap."""
        if self._http is None:
            self._http = lms_session(self.settings, max_response_bytes=JWKS_MAX_BYTES)
        return self._http

    def _services(self) -> tuple[FlaskRequest, OneTimeNonceSessionService, ToolCookieService]:
        request = FlaskRequest()
        session_service = OneTimeNonceSessionService(request)
        session_service.set_data_storage(self.storage)
        session_service.set_launch_data_lifetime(self.settings.launch_state_seconds)
        self.storage.set_request(request)
        return request, session_service, ToolCookieService(request, self.settings.is_https)

    def login(self, params: dict[str, str], launch_url: str
              ) -> Response | PlatformStorageLogin:
        """Answer an OIDC third-party login with the redirect to the platform's auth URL.

        When the platform offers its postMessage storage (``lti_storage_target``, sent by
        Canvas), return what the page that stores state and nonce there needs instead.
        """
        iss, hint = params.get("iss"), params.get("login_hint")
        for name, limit in LOGIN_PARAM_LIMITS.items():
            if len(params.get(name) or "") > limit:
                raise errors.LoginError(f"the login parameter {name} is longer than "
                                        f"{limit} characters")
        if not iss:
            raise errors.LoginError("the login request has no iss parameter")
        if not hint:
            raise errors.LoginError("the login request has no login_hint parameter",
                                    issuer=iss)
        request, session_service, cookies = self._services()
        # Expired states and nonces are useless; an indexed delete on one login in
        # PURGE_EVERY keeps the table small without a cleanup job (and without a write on
        # every login: at exam time logins arrive by the hundred).
        if secrets.randbelow(PURGE_EVERY) == 0:
            self.storage.purge_expired()
        self.storage.owner = self._client_key()
        self.storage.make_room(self.storage.owner, LOGIN_STATES_PER_CLIENT)
        oidc = FlaskOIDCLogin(request, self.tool_conf, session_service=session_service,
                              cookie_service=cookies, launch_data_storage=None)
        # Keep the login parameters with the state: if the browser loses the state cookie
        # (blocked third-party cookies), the error page can restart login in a new window.
        oidc.pass_params_to_launch({k: params[k] for k in LOGIN_PARAMS if params.get(k)})
        try:
            redirect = oidc.get_redirect_object(launch_url)
        except (AmbiguousPlatformError, OIDCException) as exc:
            client_id = params.get("client_id")
            raise errors.translate(
                "login", exc, who={"issuer": iss, "client_id": client_id},
                disabled=lambda: self.tool_conf.is_disabled(iss, client_id)) from exc
        target = params.get("lti_storage_target")
        if not target:
            return redirect.do_redirect()
        url = redirect.get_redirect_url()
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        return PlatformStorageLogin(target=target, origin=_origin(url), state=query["state"],
                                    nonce=query["nonce"], redirect_url=url,
                                    response=redirect.do_redirect())

    def _client_key(self) -> str:
        """Who started a login, for the per-client cap: an HMAC of the client address
        (the proxy-resolved one), so the table holds no address."""
        from flask import request as flask_request

        address = (flask_request.remote_addr or "-").encode()
        return hmac.new(self.settings.secret_key.encode(), address,
                        hashlib.sha256).hexdigest()[:32]

    def platform_storage_check(self) -> PlatformStorageCheck | None:
        """For a launch without the state cookie whose login used platform storage, what
        the browser must read back from the platform before the launch can be validated."""
        from flask import request as flask_request

        form = flask_request.form
        state, id_token = form.get("state"), form.get("id_token")
        if not state or not id_token or STORAGE_STATE_FIELD in form:
            return None
        if flask_request.cookies.get(f"lti1p3-{state}") == state:
            return None
        params = self.login_params_for_state(state)
        if not params or not params.get("lti_storage_target"):
            return None
        try:
            nonce = jwt.decode(id_token, options={"verify_signature": False}).get("nonce")
        except jwt.PyJWTError:
            return None  # let the real validation name the problem
        try:
            platform = self.tool_conf.find_platform(params["iss"], params.get("client_id"))
        except AmbiguousPlatformError:
            return None
        if not isinstance(nonce, str) or platform is None:
            return None
        return PlatformStorageCheck(target=params["lti_storage_target"],
                                    origin=_origin(platform.auth_login_url), state=state,
                                    nonce=nonce, id_token=id_token)

    def login_params_for_state(self, state: str | None) -> dict[str, str] | None:
        """The login parameters saved with a state, for the 'open in a new window' page."""
        if not state:
            return None
        _, session_service, _ = self._services()
        value = session_service.get_state_params(state)
        return value if isinstance(value, dict) else None

    def launch(self) -> LaunchContext:
        """Validate the id_token of this request and return what it says, or raise."""
        request, session_service, cookies = self._services()
        message = ToolMessageLaunch(request, self.tool_conf, session_service=session_service,
                                    cookie_service=cookies,
                                    requests_session=_LazySession(lambda: self.http))
        message.storage = self.storage
        message.jwks_cache_seconds = self.settings.jwks_cache_seconds
        message.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
        try:
            message.validate()
        except errors.LaunchError:
            raise
        except LtiException as exc:
            raise errors.translate("launch", exc) from exc
        registration = message._registration
        assert isinstance(registration, ToolRegistration)
        header = message._jwt.get("header") or {}
        return _context(message.get_launch_id(), registration, message.get_launch_data(),
                        _str(header.get("kid")))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _service_url(value: Any, hosts: ServiceHosts, what: str, issuer: str,
                 client_id: str | None) -> str | None:
    """A service URL from the launch, kept only on one of the platform's own hosts: the
    tool calls it with the platform's bearer token (issue 15: a launch could name any
    host, a loopback address included). Dropped, not refused - the launch itself is
    good - and logged so an admin can add the LMS's origin (`--frame-origin`)."""
    url = _str(value)
    if url is None or hosts.allows(url):
        return url
    log.warning("launch from %s client %s: the %s URL is not on one of the platform's "
                "registered hosts (issuer, login, token and key set URLs, frame origins); "
                "it is not kept or called", issuer, client_id, what)
    return None


def _context(launch_id: str, registration: ToolRegistration, body: dict[str, Any],
             signing_kid: str | None = None) -> LaunchContext:
    """The launch as the rest of the tool sees it. Every claim read here passed
    ``claims.check_envelope`` and ``claims.check_message``: objects are objects,
    identifiers fit their columns; display text is cut to its column here."""
    context = body.get(CLAIM + "context") or {}
    link = body.get(CLAIM + "resource_link") or {}
    ags = body.get(AGS_CLAIM) or {}
    nrps = body.get(NRPS_CLAIM) or {}
    platform = body.get(CLAIM + "tool_platform") or {}
    presentation = body.get(CLAIM + "launch_presentation") or {}
    for_user = body.get(CLAIM + "for_user") or {}
    display = claims.display_text
    hosts = registration.service_hosts

    def service_url(value: Any, what: str) -> str | None:
        return _service_url(value, hosts, what, body["iss"], registration.get_client_id())

    return LaunchContext(
        launch_id=launch_id,
        message_type=body[CLAIM + "message_type"],
        platform_id=registration.platform_id,
        issuer=body["iss"],
        client_id=registration.get_client_id() or "",
        deployment_id=body[CLAIM + "deployment_id"],
        sub=body["sub"],
        lti_roles=tuple(body.get(CLAIM + "roles") or ()),
        name=display(body.get("name"), claims.NAME_LENGTH),
        given_name=display(body.get("given_name"), claims.NAME_LENGTH),
        family_name=display(body.get("family_name"), claims.NAME_LENGTH),
        email=claims.email(body.get("email")),
        context_id=_str(context.get("id")),
        context_label=display(context.get("label"), claims.LABEL_LENGTH),
        context_title=display(context.get("title"), claims.TITLE_LENGTH),
        resource_link_id=_str(link.get("id")),
        resource_link_title=display(link.get("title"), claims.TITLE_LENGTH),
        target_link_uri=_str(body.get(CLAIM + "target_link_uri")),
        custom=claims.custom_parameters(body.get(CLAIM + "custom")),
        ags_lineitems_url=service_url(ags.get("lineitems"), "AGS lineitems"),
        ags_lineitem_url=service_url(ags.get("lineitem"), "AGS lineitem"),
        ags_scopes=tuple(ags.get("scope") or ()),
        nrps_url=service_url(nrps.get("context_memberships_url"), "NRPS memberships"),
        locale=display(presentation.get("locale"), claims.SHORT_TEXT),
        platform_product=display(platform.get("product_family_code"), claims.SHORT_TEXT),
        deep_linking=body.get(DL_CLAIM),
        for_user_sub=_str(for_user.get("user_id")),
        signing_kid=signing_kid[:255] if signing_kid else None,
    )
