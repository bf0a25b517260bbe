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
  from its issuer's origin (``configuration_host_allowed``); Canvas places a tool by its own
  placement names and a privacy level (``registration_placements``,
  ``registration_extensions``), where the Dynamic Registration spec has ``ContentArea``;
- roster paging: Moodle's ``/CourseSection/`` next-page URLs are case-sensitive
  (``next_page_url``) - handled the same way for every family;
- roles: Canvas's institution roles and Moodle's site-admin roles are read by one rule for
  every family, in ``lti_tool.lti.roles``; which bare sub-roles count as staff is not a
  family's trait but each platform's setting (``Platform.staff_roles``);
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
           "CANVAS_PLACEMENTS", "CANVAS_PRIVACY_LEVEL", "CANVAS_SUBMISSION", "LmsFamily",
           "configuration_host_allowed", "detect", "display_name", "family_from_text",
           "next_page_url", "registration_extensions", "registration_placements", "reported_family",
           "score_extensions", "shared_issuer_suffix"]

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
# Canvas's words in a Dynamic Registration request (Canvas's doc/api/registration.md): its
# placements, each one for one message type, and the privacy level the tool asks for.
CANVAS_LTI = "https://canvas.instructure.com/lti/"
CANVAS_PRIVACY_LEVEL = CANVAS_LTI + "privacy_level"
CANVAS_TOOL_ID = CANVAS_LTI + "tool_id"
CANVAS_COURSE_NAV_DEFAULT = CANVAS_LTI + "course_navigation/default_enabled"
# "public": Canvas sends name and email. The tool shows instructors their students by name
# (class mastery, attempt review); a lower level would leave those pages nameless.
PRIVACY_LEVEL = "public"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
# (placement, message type): a course navigation link opens the tool; the three selection
# placements open the activity picker (Deep Linking). The same list makes /lti/canvas.json.
CANVAS_PLACEMENTS = (("course_navigation", RESOURCE_LINK), ("link_selection", DEEP_LINKING),
                     ("assignment_selection", DEEP_LINKING), ("editor_button", DEEP_LINKING))
# The Dynamic Registration spec's own word for "where activities are added".
DR_CONTENT_AREA = "ContentArea"


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_canvas_cloud_issuer(issuer: str) -> bool:
    return _hostname(issuer) in CANVAS_CLOUD_HOSTS


def detect(issuer: str, auth_login_url: str = "", product: str | None = None) -> LmsFamily:
    """The family of a platform being registered, from what registering it tells us.

    Canvas by its issuer (an ``instructure.com`` issuer, Canvas Cloud's among them) or, in
    Dynamic Registration, by the product its OpenID configuration names
    (``product_family_code`` "canvas": a self-hosted Canvas on a college domain says so
    there). Moodle by its login URL (``/mod/lti/auth.php``) or the product it names. Anything
    else - Brightspace, Blackboard, a Canvas added by hand on a college domain until an admin
    says so (``--lms canvas``) - is ``other``. ``product`` is only what a registration's
    configuration claims: it picks score extensions and placement names, never trust."""
    code = (product or "").strip().lower()
    if "instructure.com" in issuer or _is_canvas_cloud_issuer(issuer) or code == "canvas":
        return LmsFamily.CANVAS
    try:
        login_path = urlsplit(auth_login_url).path
    except ValueError:
        login_path = ""
    if code == "moodle" or login_path.endswith(MOODLE_LOGIN_PATH):
        return LmsFamily.MOODLE
    return LmsFamily.OTHER


def display_name(family: LmsFamily | str, platform_name: str = "") -> str:
    """The LMS as a person calls it in a sentence ("Canvas accepted"): LmsFamily.spoken."""
    return LmsFamily(family).spoken(platform_name)


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


def registration_placements(family: LmsFamily | str, message_type: str) -> list[str]:
    """Where a Dynamic Registration asks the LMS to offer a message. Canvas: its own
    placement names with Canvas's prefix (course navigation for a launch; link selection,
    assignment selection and the editor button for Deep Linking) - without them Canvas
    files every message under link selection. Others: the spec's ``ContentArea`` for Deep
    Linking (Moodle ignores placements), nothing for a launch."""
    if family == LmsFamily.CANVAS:
        return [CANVAS_LTI + name for name, kind in CANVAS_PLACEMENTS if kind == message_type]
    return [DR_CONTENT_AREA] if message_type == DEEP_LINKING else []


def registration_extensions(family: LmsFamily | str, message_type: str | None = None,
                            ) -> dict[str, Any]:
    """Canvas's extra fields of a Dynamic Registration request: the privacy level and tool
    id of the whole tool (``message_type`` None), and, on the launch message, that the
    course navigation link is on by default. Nothing for other LMSs."""
    if family != LmsFamily.CANVAS:
        return {}
    if message_type is None:
        return {CANVAS_PRIVACY_LEVEL: PRIVACY_LEVEL, CANVAS_TOOL_ID: "cpt-practice"}
    if message_type == RESOURCE_LINK:
        return {CANVAS_COURSE_NAV_DEFAULT: True}
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
