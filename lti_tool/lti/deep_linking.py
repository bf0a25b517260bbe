"""Deep Linking: the activities an instructor can place, and the signed response.

Each placed link carries what it places in its ``custom`` parameters (course copy keeps
custom parameters, while resource link ids change; practice/placement.py writes and reads
them: a whole module's activity, or one lesson or key activity), plus the
``$ResourceLink.id.history`` and ``$Context.id.history`` substitutions so a copied link
can be traced. Gradable picks
declare a ``lineItem`` - Moodle only creates a grade column when one is declared.

Two URLs of the response are security decisions. The launch URL placed in the LMS comes
from the configured base URL, never from the request's Host header: a forged Host would
otherwise be signed into every placed link, and the LMS would send students' id_tokens
there. The platform's ``deep_link_return_url`` becomes the action of a form the browser
submits, so it must be an absolute https URL (http only in development and the tests) and
is checked at the launch, before the picker is shown, and again when the response is
built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy.orm import Session

from lti_tool.lti import errors
from lti_tool.lti.launch import CLAIM, DL_CLAIM
from lti_tool.lti.registry import DbToolConf
from lti_tool.lti.storage import DbLaunchDataStorage
from lti_tool.settings import Settings

LINE_ITEM_TAG = "cpt-practice"
MAX_RETURN_URL = 2048
# The sandbox LMS of development and of the tests answers on http://127.0.0.1.
HTTP_RETURN_ENVIRONMENTS = frozenset({"development", "test"})


class ReturnUrlError(errors.UnsupportedMessageError):
    """The Deep Linking request names a return URL the tool will not post to."""

    code = "bad_return_url"
    title = "The LMS sent an unusable Deep Linking return address"
    admin_hint = ("The Deep Linking request's deep_link_return_url must be an absolute "
                  "https URL of the LMS (http is accepted only in development). Check the "
                  "tool's placement in the LMS, and any proxy in front of the LMS.")


def return_url_refusal(url: Any, settings: Settings) -> str | None:
    """Why ``url`` cannot be a Deep Linking return URL, or None when it can.

    Anything but an absolute http(s) URL with a host is refused: a ``javascript:`` or
    ``data:`` action runs script on the tool's origin. Refused rather than repaired, as
    parsers and browsers read them differently: whitespace and control characters (a
    browser drops them: ``java<TAB>script:`` is ``javascript:``), backslashes (a browser
    reads them as slashes) and user info (``user@host`` hides which host it is). The
    messages never repeat the URL.
    """
    if not isinstance(url, str) or not url:
        return "the Deep Linking request has no deep_link_return_url"
    if len(url) > MAX_RETURN_URL:
        return f"the deep_link_return_url is longer than {MAX_RETURN_URL} characters"
    if "\\" in url or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return ("the deep_link_return_url contains spaces, control characters or "
                "backslashes")
    parts = urlsplit(url)
    http_ok = settings.environment in HTTP_RETURN_ENVIRONMENTS
    if parts.scheme not in ({"https", "http"} if http_ok else {"https"}):
        return ("the deep_link_return_url must be an absolute " +
                ("http(s)" if http_ok else "https") + " URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "the deep_link_return_url has an invalid port"
    if not parts.hostname or "@" in parts.netloc:
        return "the deep_link_return_url must name the LMS's host, without user info"
    return None


def checked_return_url(deep_linking: Any, settings: Settings, *, issuer: str | None = None,
                       client_id: str | None = None) -> str:
    """The return URL of a Deep Linking settings claim, or raise ``ReturnUrlError``."""
    url = deep_linking.get("deep_link_return_url") if isinstance(deep_linking, dict) \
        else None
    refusal = return_url_refusal(url, settings)
    if refusal is not None:
        raise ReturnUrlError(refusal, issuer=issuer, client_id=client_id)
    return url


class Activity(Protocol):
    """An activity to place (practice/placement.py builds them from the curriculum and
    the attempt modes, and owns the custom parameters that say what a link places; the
    LTI edge only turns them into content items)."""

    @property
    def key(self) -> str: ...  # a graded one's "<kind>:<module>" is the line item's resourceId
    @property
    def title(self) -> str: ...
    @property
    def gradable(self) -> bool: ...
    @property
    def score_maximum(self) -> int | None: ...
    @property
    def custom(self) -> dict[str, str]: ...


def resource_for(activity: Activity, launch_url: str) -> DeepLinkResource:
    custom = {**activity.custom, "resource_link_history": "$ResourceLink.id.history",
              "context_history": "$Context.id.history"}
    resource = (DeepLinkResource().set_title(activity.title).set_url(launch_url)
                .set_custom_params(custom))
    if activity.gradable and activity.score_maximum:
        resource.set_lineitem(LineItem().set_label(activity.title)
                              .set_score_maximum(activity.score_maximum)
                              .set_resource_id(activity.key).set_tag(LINE_ITEM_TAG))
    return resource


def deep_linking_response(session: Session, storage: DbLaunchDataStorage, launch_id: str,
                          activities: Sequence[Activity], tool_settings: Settings
                          ) -> tuple[str, str]:
    """(return URL, signed JWT) for a Deep Linking launch kept under ``launch_id``. The
    placed links point at the configured base URL's /lti/launch."""
    body = storage.get_value(launch_id)
    if not isinstance(body, dict) or body.get(CLAIM + "message_type") != \
            "LtiDeepLinkingRequest":
        raise errors.StaleStateError("the Deep Linking launch expired; start it again from "
                                     "the LMS")
    aud = body.get("aud")
    client_id = aud[0] if isinstance(aud, list) else aud
    registration = DbToolConf(session).find_registration_by_params(body["iss"], client_id)
    if registration is None:
        raise errors.UnknownPlatformError("the platform is no longer registered",
                                          issuer=body["iss"], client_id=client_id)
    # Checked again here: a launch stored before the check existed, or altered since.
    return_url = checked_return_url(body.get(DL_CLAIM), tool_settings, issuer=body["iss"],
                                    client_id=client_id)
    settings: dict[str, Any] = body[DL_CLAIM]
    launch_url = tool_settings.url("/lti/launch")
    link = DeepLink(registration, body[CLAIM + "deployment_id"], settings)
    message = link.get_message_jwt([resource_for(a, launch_url) for a in activities])
    if message.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") is None:
        # The data claim echoes the platform's value; sending null when there was none
        # makes strict platforms refuse the response.
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    return return_url, link.encode_jwt(message)
