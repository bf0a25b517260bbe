"""Platform registrations (``service``) and the LMS family of each (``family``).

``lti_tool.lti.platforms`` keeps the names it had as a module, so its importers need not
know which file holds them.
"""

from lti_tool.lti.platforms.family import LmsFamily, detect
from lti_tool.lti.platforms.service import (
    MAX_ID,
    MAX_URL,
    AddResult,
    PlatformError,
    PlatformNotFoundError,
    PlatformService,
    PlatformSpec,
    check_frame_origin,
    check_http_url,
    platform_as_dict,
)

__all__ = ["MAX_ID", "MAX_URL", "AddResult", "LmsFamily", "PlatformError",
           "PlatformNotFoundError", "PlatformService", "PlatformSpec", "check_frame_origin",
           "check_http_url", "detect", "platform_as_dict"]
