"""The LMS family of a platform, and every way the tool treats Canvas or Moodle differently.

A family is decided once, when the platform row is created (``detect``), stored on the row
(``Platform.lms_family``), shown on the admin console and in ``cpt-lti platform list``, and
corrected by an admin when the guess is wrong (a self-hosted Canvas on a college domain).
Everything else asks this module, with the row's family, instead of looking at an issuer:

- scores: Canvas's submission extension (``score_extensions``);
- hosts: Canvas Cloud's shared issuer, whose schools live on ``*.instructure.com``
  subdomains no registration names - they frame the tool and serve AGS and NRPS
  (``shared_issuer_suffix``, used by the CSP frame-ancestors and ``ServiceHosts``);
- registration: Canvas Cloud's OpenID configuration is served from Instructure hosts, not
  from its issuer's origin (``configuration_host_allowed``);
- roster paging: Moodle's ``/CourseSection/`` next-page URLs are case-sensitive
  (``next_page_url``) - handled the same way for every family;
- roles: Canvas's institution roles and Moodle's site-admin roles are read by one rule for
  every family, in ``lti_tool.lti.roles``;
- deep linking: every activity declares a ``lineItem`` (Moodle makes a grade column only
  then), for every family, in ``lti_tool.lti.deep_linking``.

A new LMS difference is one function here (keyed on ``LmsFamily``) and a test.
The product a launch reports (``tool_platform.product_family_code``) is not trusted to
decide anything - any platform can claim any product - but ``reported_family`` reads it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from lti_tool.models import LmsFamily

__all__ = ["CANVAS_CLOUD_HOSTS", "CANVAS_CLOUD_ISSUERS", "CANVAS_CLOUD_SUFFIX",
           "CANVAS_SUBMISSION", "LmsFamily", "configuration_host_allowed", "detect",
           "family_from_text", "next_page_url", "reported_family", "score_extensions",
           "shared_issuer_suffix"]

# Canvas Cloud: one issuer for every school, its services on the school's own subdomain.
CANVAS_CLOUD_HOSTS = frozenset({"canvas.instructure.com", "canvas.beta.instructure.com",
                                "canvas.test.instructure.com"})
CANVAS_CLOUD_SUFFIX = ".instructure.com"
CANVAS_CLOUD_ISSUERS = frozenset("https://" + host for host in CANVAS_CLOUD_HOSTS)
# Canvas Cloud serves its OpenID configuration from these hosts (Dynamic Registration).
CANVAS_CONFIG_HOSTS = (".instructure.com", "sso.canvaslms.com", ".canvaslms.com")
# Canvas's extension of an AGS score: when the student submitted, and that it is new.
CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
MOODLE_LOGIN_PATH = "/mod/lti/auth.php"


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_canvas_cloud_issuer(issuer: str) -> bool:
    return _hostname(issuer) in CANVAS_CLOUD_HOSTS


def detect(issuer: str, auth_login_url: str = "", product: str | None = None) -> LmsFamily:
    """The family of a platform being registered, from what registering it tells us.

    Canvas only by its issuer (an ``instructure.com`` issuer, Canvas Cloud's among them):
    that is what the Canvas behaviours were always keyed on. Moodle by its login URL
    (``/mod/lti/auth.php``) or, in Dynamic Registration, the product it names. Anything
    else - Brightspace, Blackboard, a Canvas on a college domain until an admin says so -
    is ``other``."""
    if "instructure.com" in issuer or _is_canvas_cloud_issuer(issuer):
        return LmsFamily.CANVAS
    try:
        login_path = urlsplit(auth_login_url).path
    except ValueError:
        login_path = ""
    if product == "moodle" or login_path.endswith(MOODLE_LOGIN_PATH):
        return LmsFamily.MOODLE
    return LmsFamily.OTHER


def family_from_text(value: str) -> LmsFamily:
    """An admin's choice (``--lms``, the console's select); ValueError names the choices."""
    try:
        return LmsFamily(value.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in LmsFamily)
        raise ValueError(f"LMS must be one of {choices}, not {value!r}") from None


def reported_family(product_family_code: str | None) -> LmsFamily | None:
    """The family a launch's ``tool_platform.product_family_code`` claims (``canvas``,
    ``moodle``; another product is ``other``), or None when the launch names none."""
    if not product_family_code:
        return None
    code = product_family_code.strip().lower()
    return LmsFamily(code) if code in (LmsFamily.CANVAS, LmsFamily.MOODLE) else LmsFamily.OTHER


def score_extensions(family: LmsFamily | str, submitted_at: str) -> dict[str, Any]:
    """Extra claims of an AGS score: Canvas shows ``submitted_at`` (the attempt's, not the
    outbox's time) as the submission time and counts a new submission."""
    if family == LmsFamily.CANVAS:
        return {CANVAS_SUBMISSION: {"submitted_at": submitted_at, "new_submission": True}}
    return {}


def shared_issuer_suffix(family: LmsFamily | str, issuer: str) -> str | None:
    """``.instructure.com`` for a Canvas Cloud issuer: every school's Canvas lives on a
    subdomain of it, which frames the tool and serves AGS and NRPS, and no registration
    names it. None for any other platform."""
    if family == LmsFamily.CANVAS and _is_canvas_cloud_issuer(issuer):
        return CANVAS_CLOUD_SUFFIX
    return None


def configuration_host_allowed(issuer: str, url: str, *, from_sandbox: bool = False) -> bool:
    """Dynamic Registration: whether an OpenID configuration at ``url`` may name ``issuer``
    although it is not on the issuer's origin (``registration.issuer_matches`` checks that
    first). Only Canvas Cloud's issuer may, from Instructure's hosts over https - or, in
    the sandbox, from the sandbox's own origin (``from_sandbox``)."""
    if issuer.rstrip("/") not in CANVAS_CLOUD_ISSUERS:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if urlsplit(url).scheme == "https" and (
            host.endswith(CANVAS_CONFIG_HOSTS) or host in ("sso.canvaslms.com",)):
        return True
    return from_sandbox


def next_page_url(links: dict[str, dict[str, str]]) -> str | None:
    """The next roster page from a response's parsed ``Link`` header (``resp.links``), as
    the server wrote it: pylti1p3's own paging lower-cases the whole header, which breaks
    Moodle's ``/CourseSection/`` URLs."""
    return links.get("next", {}).get("url")
