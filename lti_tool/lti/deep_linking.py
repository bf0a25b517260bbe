"""Deep Linking: the activities an instructor can place, and the signed response.

Each placed link carries our activity key in its ``custom`` parameters (course copy keeps
custom parameters, while resource link ids change), plus the ``$ResourceLink.id.history``
and ``$Context.id.history`` substitutions so a copied link can be traced. Gradable picks
declare a ``lineItem`` - Moodle only creates a grade column when one is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy.orm import Session

from lti_tool.curriculum.schema import Blueprint
from lti_tool.lti import errors
from lti_tool.lti.launch import CLAIM, DL_CLAIM
from lti_tool.lti.registry import DbToolConf
from lti_tool.lti.storage import DbLaunchDataStorage

ACTIVITY_KINDS = ("lessons", "drill", "practice", "mock")
PRACTICE_SIZE = 25
LINE_ITEM_TAG = "cpt-practice"


@dataclass(frozen=True)
class Activity:
    key: str  # "<kind>:<module>", also the line item's resourceId
    kind: str
    module_id: str
    title: str
    description: str
    gradable: bool
    score_maximum: int | None


def catalog(blueprint: Blueprint) -> list[Activity]:
    activities = []
    for module in blueprint.modules:
        name = module.title
        activities += [
            Activity(f"lessons:{module.id}", "lessons", module.id, f"{name}: lessons",
                     f"The {name} lessons with their checks.", False, None),
            Activity(f"drill:{module.id}", "drill", module.id, f"{name}: drill",
                     "Questions with instant feedback, missed ones come back.", False, None),
            Activity(f"practice:{module.id}", "practice", module.id,
                     f"{name}: practice test", f"{PRACTICE_SIZE} questions across the "
                     f"module, feedback at the end.", True, PRACTICE_SIZE),
            Activity(f"mock:{module.id}", "mock", module.id, f"{name}: mock exam",
                     f"{module.exam.items} questions in {module.exam.minutes} minutes, like "
                     f"the real exam.", True, module.exam.items),
        ]
    return activities


def resource_for(activity: Activity, launch_url: str) -> DeepLinkResource:
    resource = (DeepLinkResource().set_title(activity.title).set_url(launch_url)
                .set_custom_params({"activity": activity.kind, "module": activity.module_id,
                                    "resource_link_history": "$ResourceLink.id.history",
                                    "context_history": "$Context.id.history"}))
    if activity.gradable and activity.score_maximum:
        resource.set_lineitem(LineItem().set_label(activity.title)
                              .set_score_maximum(activity.score_maximum)
                              .set_resource_id(activity.key).set_tag(LINE_ITEM_TAG))
    return resource


def deep_linking_response(session: Session, storage: DbLaunchDataStorage, launch_id: str,
                          activities: list[Activity], launch_url: str
                          ) -> tuple[str, str]:
    """(return URL, signed JWT) for a Deep Linking launch kept under ``launch_id``."""
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
    settings: dict[str, Any] = body[DL_CLAIM]
    link = DeepLink(registration, body[CLAIM + "deployment_id"], settings)
    message = link.get_message_jwt([resource_for(a, launch_url) for a in activities])
    if message.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") is None:
        # The data claim echoes the platform's value; sending null when there was none
        # makes strict platforms refuse the response.
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    return settings["deep_link_return_url"], link.encode_jwt(message)
