"""The closed set of reasons a login or launch is refused, each with what an admin checks.

Every refusal is a 4xx page built from one of these; nothing else leaves the LTI edge.
"""

from __future__ import annotations


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
