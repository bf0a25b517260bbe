"""Type and size checks on every id_token claim the tool reads (issue 15, point 7).

pylti1p3 checks the signature and that a few claims are present, but reads the rest as
whatever JSON came: a ``resource_link`` sent as a string crashed its validator with a
500, and a 3,000-character ``sub`` or a NUL in a title reached PostgreSQL, which refuses
both. Here each claim the tool reads gets its type and size checked before anything uses
it; a launch that breaks a rule is refused with ``bad_claim`` (400), naming the claim and
the rule, never echoing the value.

Two kinds of over-long text, two answers:

- Identifiers (``sub``, context, resource link, deployment and ``for_user`` ids) are
  refused: LTI 1.3 Core (5.3.3, 5.3.5, 5.3.6; OIDC Core 2 for ``sub``) caps them at 255
  characters, and a shortened id would be somebody else's. URLs the tool stores or
  calls (AGS, NRPS, target link, Deep Linking return) and custom parameters are refused
  over their size too: a shortened URL or setting is a wrong one.
- Display text (names, course label and title, link title, locale) is cut to what its
  column holds: it is only shown, and a course with a long title should still launch.
  An over-long email is dropped instead: a cut address would be somebody else's.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from lti_tool.lti import errors

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

MAX_ID = 255  # LTI/OIDC identifiers, and the columns that keep them
MAX_SERVICE_URL = 1024  # the columns that keep AGS and NRPS URLs
MAX_URL = 2048  # target_link_uri, deep_link_return_url
MAX_ROLES = 100  # real launches carry a handful
MAX_SCOPES = 20
MAX_CUSTOM = 100
MAX_CUSTOM_VALUE = 4096
MAX_DL_TEXT = 1024  # Deep Linking title and text
MAX_DL_DATA = 8192  # opaque, echoed back to the platform (Canvas sends a JWT)
MAX_DEPTH = 16  # nesting of any claim: real ones are two or three levels deep
# NumericDate (RFC 7519 2): seconds since 1970; anything past the year 5000 is not a time.
MAX_TIME = 10 ** 11

# Display-text columns (models.py): what a longer value is cut to.
NAME_LENGTH = 255
EMAIL_LENGTH = 320
LABEL_LENGTH = 255
TITLE_LENGTH = 512
SHORT_TEXT = 64  # locale, product family code


def short_name(key: str) -> str:
    """``https://purl.imsglobal.org/spec/lti/claim/context`` -> ``context``: how a
    person reading the error page finds the claim in the LMS's documentation."""
    return key.rsplit("/", 1)[-1] if key.startswith("https://purl.imsglobal.org/") else key


def _fail(name: str, rule: str, who: dict[str, str | None]) -> NoReturn:
    # A member name comes from the token: shown, but never at any length.
    name = name if len(name) <= 80 else name[:77] + "..."
    raise errors.BadClaimError(f"the {name} claim {rule}", **who)


def _is_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _no_nul(body: dict[str, Any], who: dict[str, str | None]) -> None:
    """No claim, at any depth, holds a NUL (PostgreSQL cannot store one) or nests deeper
    than any real claim does. Iterative: a hostile token must not exhaust the stack."""
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        name, value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                _fail(name, "contains a NUL character", who)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                _fail(name, f"nests deeper than {MAX_DEPTH} levels", who)
            if isinstance(value, list):
                stack.extend((name, inner, depth + 1) for inner in value)
                continue
            for key, inner in value.items():
                if "\x00" in key:
                    _fail(name or "id_token", "has a member name with a NUL character", who)
                stack.append((f"{name}.{key}" if name else short_name(key), inner,
                              depth + 1))


class _Claims:
    """Reads one claim set, failing with the claim's name on the first broken rule."""

    def __init__(self, body: dict[str, Any], who: dict[str, str | None]) -> None:
        self.body = body
        self.who = who

    def fail(self, name: str, rule: str) -> NoReturn:
        _fail(name, rule, self.who)

    def object(self, key: str) -> dict[str, Any] | None:
        """An optional claim that is a JSON object when sent. ``null`` is refused too:
        pylti1p3 reads a present claim as an object (a null ``resource_link`` was a 500)."""
        if key not in self.body:
            return None
        value = self.body[key]
        if not isinstance(value, dict):
            self.fail(short_name(key), "must be a JSON object")
        return value

    def text(self, name: str, value: Any, limit: int | None = None, *,
             identifier: bool = False) -> str | None:
        """``value`` if it is absent or text within ``limit``; identifiers must also be
        non-empty and free of control characters."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string")
        if identifier and not value:
            self.fail(name, "must not be empty")
        if identifier and _is_control(value):
            self.fail(name, "must not contain control characters")
        if limit is not None and len(value) > limit:
            self.fail(name, f"is longer than {limit} characters")
        return value

    def strings(self, name: str, value: Any, *, most: int, limit: int) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "must be a list of strings")
        if len(value) > most:
            self.fail(name, f"has more than {most} entries")
        if any(len(v) > limit for v in value):
            self.fail(name, f"has an entry longer than {limit} characters")

    def time(self, key: str) -> None:
        value = self.body.get(key)
        if value is None:
            return  # required ones are enforced by the JWT check (require exp, iat)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 <= value <= MAX_TIME):
            self.fail(key, "must be a time in seconds since 1970 (a JSON number)")


def check_envelope(body: dict[str, Any], who: dict[str, str | None]) -> None:
    """The claims read before the signature is checked (to find the platform, its key
    and deployment): their type and size, and no NUL anywhere in the token. Absence is
    left to the steps that require them (``missing_claim``)."""
    _no_nul(body, who)
    c = _Claims(body, who)
    c.text("iss", body.get("iss"), MAX_ID)
    aud = body.get("aud")
    if isinstance(aud, list):
        c.strings("aud", aud, most=MAX_SCOPES, limit=MAX_ID)
    else:
        c.text("aud", aud, MAX_ID)
    c.text("azp", body.get("azp"), MAX_ID)
    c.text("nonce", body.get("nonce"), MAX_ID)
    c.text("sub", body.get("sub"), MAX_ID, identifier=True)
    c.text("deployment_id", body.get(CLAIM + "deployment_id"), MAX_ID, identifier=True)
    for key in ("exp", "iat", "nbf"):
        c.time(key)


def check_message(body: dict[str, Any], who: dict[str, str | None]) -> None:
    """Every other claim the tool reads (see ``launch._context``), after the signature
    is checked and before pylti1p3's message validators index into them."""
    c = _Claims(body, who)
    c.strings("roles", body.get(CLAIM + "roles"), most=MAX_ROLES, limit=MAX_ID)
    for key in ("name", "given_name", "family_name", "email"):
        c.text(key, body.get(key))  # too long: cut or dropped, see display_text

    if (context := c.object(CLAIM + "context")) is not None:
        c.text("context.id", context.get("id"), MAX_ID, identifier=True)
        if context.get("id") is None:
            c.fail("context.id", "is required when a context is sent")
        c.text("context.label", context.get("label"))
        c.text("context.title", context.get("title"))
    if (link := c.object(CLAIM + "resource_link")) is not None:
        c.text("resource_link.id", link.get("id"), MAX_ID, identifier=True)
        c.text("resource_link.title", link.get("title"))

    if (custom := c.object(CLAIM + "custom")) is not None:
        if len(custom) > MAX_CUSTOM:
            c.fail("custom", f"has more than {MAX_CUSTOM} parameters")
        for key, value in custom.items():
            if len(key) > MAX_ID:
                c.fail("custom", f"has a parameter name longer than {MAX_ID} characters")
            if value is not None and (isinstance(value, dict | list)
                                      or not isinstance(value, str | int | float | bool)):
                c.fail("custom", f"parameter {key[:40]!r} must be a string")
            if len(str(value)) > MAX_CUSTOM_VALUE:
                c.fail("custom", f"parameter {key[:40]!r} is longer than "
                       f"{MAX_CUSTOM_VALUE} characters")

    if (ags := c.object(AGS_CLAIM)) is not None:
        c.strings("endpoint.scope", ags.get("scope"), most=MAX_SCOPES, limit=MAX_ID)
        c.text("endpoint.lineitems", ags.get("lineitems"), MAX_SERVICE_URL)
        c.text("endpoint.lineitem", ags.get("lineitem"), MAX_SERVICE_URL)
    if (nrps := c.object(NRPS_CLAIM)) is not None:
        c.text("namesroleservice.context_memberships_url",
               nrps.get("context_memberships_url"), MAX_SERVICE_URL)
        c.strings("namesroleservice.service_versions", nrps.get("service_versions"),
                  most=MAX_SCOPES, limit=MAX_ID)
    if (presentation := c.object(CLAIM + "launch_presentation")) is not None:
        c.text("launch_presentation.locale", presentation.get("locale"))
    if (platform := c.object(CLAIM + "tool_platform")) is not None:
        c.text("tool_platform.product_family_code", platform.get("product_family_code"))
    c.text("target_link_uri", body.get(CLAIM + "target_link_uri"), MAX_URL)
    if (for_user := c.object(CLAIM + "for_user")) is not None:
        c.text("for_user.user_id", for_user.get("user_id"), MAX_ID, identifier=True)
    c.object(CLAIM + "lis")  # only its shape: nothing in it is read

    if (dl := c.object(DL_CLAIM)) is not None:
        c.text("deep_linking_settings.deep_link_return_url", dl.get("deep_link_return_url"),
               MAX_URL)
        for key in ("accept_types", "accept_presentation_document_targets"):
            c.strings(f"deep_linking_settings.{key}", dl.get(key), most=MAX_SCOPES,
                      limit=MAX_ID)
        c.text("deep_linking_settings.accept_media_types", dl.get("accept_media_types"),
               MAX_DL_TEXT)
        for key in ("accept_multiple", "auto_create"):
            if not isinstance(dl.get(key), bool | str | None):
                c.fail(f"deep_linking_settings.{key}", "must be true or false")
        for key in ("title", "text"):
            c.text(f"deep_linking_settings.{key}", dl.get(key), MAX_DL_TEXT)
        c.text("deep_linking_settings.data", dl.get("data"), MAX_DL_DATA)


def display_text(value: Any, limit: int) -> str | None:
    """Checked display text cut to its column (see the module docstring)."""
    return value[:limit] if isinstance(value, str) and value else None


def email(value: Any) -> str | None:
    """An email that fits its column, else none: a cut address is a wrong one."""
    return value if isinstance(value, str) and value and len(value) <= EMAIL_LENGTH \
        else None


def custom_parameters(custom: dict[str, Any] | None) -> dict[str, str]:
    """Checked custom parameters as text (a platform may send a number or a boolean)."""
    return {key: str(value) for key, value in (custom or {}).items() if value is not None}
