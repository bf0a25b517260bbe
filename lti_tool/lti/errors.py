"""The closed set of reasons a login or launch is refused, each with what an admin checks,
and the one table (``TRANSLATIONS``) that turns pylti1p3's failures into them.

Every refusal is a 4xx page built from one of these; nothing else leaves the LTI edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from pylti1p3.exception import LtiException, OIDCException

from lti_tool.lti.registry import AmbiguousPlatformError


class LaunchError(Exception):
    """Base: a launch we refuse. ``code`` is stable (logs, tests); the texts are for people."""

    code = "launch_failed"
    status = 400
    title = "The launch could not be completed"
    admin_hint = "Ask your LMS administrator to check the tool's registration."

    def __init__(self, detail: str, *, issuer: str | None = None,
                 client_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issuer = issuer
        self.client_id = client_id


class UnknownPlatformError(LaunchError):
    """No enabled registration for this issuer and client id."""

    code = "unknown_platform"
    status = 403
    title = "This LMS is not registered with CPT Practice"
    admin_hint = ("Register the platform with `cpt-lti platform add` using the exact issuer "
                  "and client ID shown below, or enable it if it was disabled.")


class PlatformDisabledError(UnknownPlatformError):
    """The registration exists but a tool admin turned it off: same code (scripts and
    logs keep one meaning, "no enabled registration"), a page that says so plainly."""

    title = "This LMS is turned off in CPT Practice"
    admin_hint = ("A tool administrator disabled this platform, so its launches are refused. "
                  "Enable it again in the admin console (/admin/) or with `cpt-lti platform "
                  "enable --issuer ISSUER --client-id ID`.")


class UnknownDeploymentError(LaunchError):
    """The deployment id is not registered (strict policy) or is disabled."""

    code = "unknown_deployment"
    status = 403
    title = "This deployment of the tool is not registered"
    admin_hint = ("Add the deployment ID with `cpt-lti platform add ... --deployment-id ID`, "
                  "or set the platform's deployment policy to auto-register.")


class BadTokenError(LaunchError):
    """The id_token is malformed, unsigned, badly signed or fails a claim check."""

    code = "bad_token"
    status = 401
    title = "The launch message could not be verified"
    admin_hint = ("Check that the platform's public keyset URL in the registration is right "
                  "and that the platform signs with RS256.")


class UnknownKeyError(BadTokenError):
    """The token names a kid the platform's JWKS does not publish."""

    code = "unknown_kid"
    admin_hint = ("The platform signed with a key its keyset URL does not publish. Check the "
                  "keyset URL in the registration, or wait for the platform's key rotation "
                  "to finish.")


class KeysetUnavailableError(BadTokenError):
    """The platform's JWKS URL did not answer with a key set."""

    code = "keyset_unavailable"
    title = "The LMS's public keys could not be fetched"
    admin_hint = ("The tool could not download the platform's public keyset. Check the "
                  "keyset (JWKS) URL in the registration and that the tool's server can "
                  "reach it.")


class ExpiredTokenError(BadTokenError):
    """exp is in the past or iat in the future."""

    code = "expired_token"
    title = "The launch has expired"
    admin_hint = ("Launch the activity again from the course. If this keeps happening, check "
                  "that the LMS server clock is correct.")


class WrongAudienceError(BadTokenError):
    """aud/azp do not name the client id the token was looked up with."""

    code = "wrong_audience"
    admin_hint = "The token was issued to a different client ID than the registration holds."


class ReplayedNonceError(BadTokenError):
    """The nonce is missing, was never issued by us, or was already used."""

    code = "bad_nonce"
    title = "This launch was already used"
    admin_hint = ("Each launch can be used once. Start it again from the course; if it fails "
                  "every time, check that no proxy is replaying requests.")


class StaleStateError(LaunchError):
    """state is missing or does not match what this browser was given at login."""

    code = "bad_state"
    status = 400
    title = "Your browser session for this launch was not found"
    admin_hint = ("The browser did not keep the login cookie - often because third-party "
                  "cookies are blocked in the LMS frame. Open the tool in a new window, or "
                  "check that the tool is served over HTTPS.")


class UnsupportedMessageError(LaunchError):
    """A message type, LTI version or claim set we do not handle."""

    code = "unsupported_message"
    status = 400
    title = "This kind of launch is not supported"
    admin_hint = ("CPT Practice accepts LTI 1.3 resource link launches. Check the placement "
                  "type configured for the tool in the LMS.")


class MissingClaimError(UnsupportedMessageError):
    code = "missing_claim"
    title = "The launch is missing required information"
    admin_hint = ("The LMS did not send a claim LTI 1.3 requires. Check the privacy and "
                  "placement settings of the tool in the LMS.")


class LoginError(LaunchError):
    """The OIDC login initiation is malformed."""

    code = "bad_login"
    status = 400
    title = "The login request from the LMS was incomplete"
    admin_hint = ("The LMS must send iss, login_hint and target_link_uri to /lti/login. "
                  "Check the tool's login (OIDC initiation) URL in the LMS.")


class BadClaimError(LaunchError):
    """A claim has the wrong JSON type or shape, an identifier is longer than LTI allows,
    or a value holds a NUL: the platform sent something no LTI 1.3 platform should."""

    code = "bad_claim"
    status = 400
    title = "The launch carried information the tool cannot use"
    admin_hint = ("A claim of the launch message has the wrong form or is too long; the "
                  "message below names it. Check the tool's custom parameters and "
                  "variable substitutions in the LMS, or report it to the LMS vendor.")


# -- pylti1p3's refusals, translated ----------------------------------------------------------
#
# One table: a failure pylti1p3 (or our registry under it) raised in a step of the login or
# launch -> the LaunchError above it becomes. pylti1p3 2.x raises distinct types only for
# a login (OIDCException) and, under a signature check, PyJWT's own errors as the cause;
# everything else is a bare LtiException told apart by its step and, last, by its text.
# The first row that matches wins, so each step ends with its catch-all.

Step = Literal["login", "launch", "state", "jwt_format", "nonce", "registration", "signature",
               "deployment", "message"]
WHO = ("issuer", "client_id")


@dataclass(frozen=True)
class Translation:
    """``raised`` (and ``cause``: the ``__cause__`` pylti1p3 chained) in ``step`` becomes
    ``error(detail)``. ``text``: substrings of pylti1p3's message, any of which must occur
    (only for its bare LtiException). ``detail`` formats ``text`` (pylti1p3's message),
    ``cause`` and the facts the step passes (``kid``, ``deployment_id``, ``message_type``).
    ``who``: which of issuer and client id the page names. ``disabled``: the error and
    detail instead when the refused platform is registered but disabled."""

    step: Step
    error: type[LaunchError]
    detail: str
    raised: type[BaseException] = LtiException
    cause: tuple[type[BaseException], ...] = ()
    text: tuple[str, ...] = ()
    ignore_case: bool = False
    who: tuple[str, ...] = WHO
    disabled: tuple[type[LaunchError], str] | None = None

    def matches(self, step: str, exc: BaseException) -> bool:
        if step != self.step or not isinstance(exc, self.raised):
            return False
        if self.cause and not isinstance(exc.__cause__, self.cause):
            return False
        if self.text:
            message = lti_message(exc)
            if self.ignore_case:
                message = message.lower()
            return any(t in message for t in self.text)
        return True


_DISABLED = (PlatformDisabledError, "this LMS's registration is disabled in CPT Practice")

TRANSLATIONS: tuple[Translation, ...] = (
    # /lti/login
    Translation("login", LoginError, "several registrations share this issuer and the LMS "
                "sent no client_id", raised=AmbiguousPlatformError, who=("issuer",)),
    Translation("login", UnknownPlatformError, "no enabled registration for this issuer and "
                "client ID", raised=OIDCException, disabled=_DISABLED),
    # /lti/launch, step by step
    Translation("state", StaleStateError, "{text}", who=()),
    Translation("jwt_format", BadTokenError, "{text}", who=()),
    Translation("nonce", ReplayedNonceError, "nonce is missing, unknown or already used"),
    Translation("registration", UnknownPlatformError, "several registrations share this "
                "issuer", raised=AmbiguousPlatformError),
    Translation("registration", WrongAudienceError, "{text}", text=("Client id",)),
    Translation("registration", UnknownPlatformError, "no registration for this issuer and "
                "client ID", disabled=_DISABLED),
    Translation("signature", ExpiredTokenError, "{cause}",
                cause=(jwt.ExpiredSignatureError, jwt.ImmatureSignatureError)),
    Translation("signature", MissingClaimError, "{cause}",
                cause=(jwt.MissingRequiredClaimError,)),
    Translation("signature", UnknownKeyError, "no key with kid {kid!r} in the platform keyset",
                text=("public key", "KID")),
    Translation("signature", BadTokenError, "{text}"),
    Translation("deployment", MissingClaimError, "the id_token has no deployment_id claim",
                text=("not set",)),
    Translation("deployment", UnknownDeploymentError,
                "deployment {deployment_id!r} is not registered or is disabled"),
    Translation("message", UnsupportedMessageError,
                "message type {message_type!r} is not an LTI 1.3 message",
                text=("message type",), ignore_case=True),
    Translation("message", MissingClaimError, "{text}"),
    # Anything a step above did not catch.
    Translation("launch", BadTokenError, "{text}", who=()),
)

# pylti1p3's words for "no key with the token's kid in the key set": the launch then
# fetches the key set again (the platform may have rotated) before refusing.
UNKNOWN_KEY_TEXT = "Unable to find public key"


def lti_message(exc: BaseException) -> str:
    """pylti1p3's message, or the exception's name when it gave none."""
    return str(exc).strip() or exc.__class__.__name__


def translate(step: Step, exc: BaseException, *, who: Mapping[str, str | None] | None = None,
              disabled: Callable[[], bool] | None = None, **facts: Any) -> LaunchError:
    """The LaunchError for ``exc`` raised in ``step`` (TRANSLATIONS). ``who``: the issuer
    and client id the refusal names; ``disabled`` is asked only when the row cares."""
    for row in TRANSLATIONS:
        if row.matches(step, exc):
            error, detail = row.error, row.detail
            if row.disabled is not None and disabled is not None and disabled():
                error, detail = row.disabled
            text = detail.format(text=lti_message(exc), cause=exc.__cause__, **facts)
            return error(text, **{k: (who or {}).get(k) for k in row.who})
    raise LookupError(f"no translation for {type(exc).__name__} in step {step!r}") from exc
