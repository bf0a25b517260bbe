"""The sandbox LMS's people must be people an LRS accepts: with a college that names
learners by e-mail (``actor_identity = mbox``), Ralph refused every statement about a
sandbox learner whose address was on the reserved ``.test`` domain (HTTP 400/422), and the
worker parked them all - `make run` looked broken for an analytics team trying it."""

from __future__ import annotations

from email_validator import validate_email

from lti_tool.sandbox.platforms import PLATFORMS


def test_every_sandbox_address_is_one_ralph_accepts():
    for platform in PLATFORMS.values():
        for person in platform.people:
            # What Ralph's models run on an mbox (pydantic's EmailStr).
            validate_email(person.email, check_deliverability=False)
