"""The frame-ancestors allow-list: built from registrations, safe when the DB is down."""

from __future__ import annotations

import pytest

from lti_tool.lti.platforms import PlatformError, check_frame_origin
from lti_tool.web.framing import FrameAncestorsCache, origin_of, platform_origins


@pytest.mark.parametrize(("url", "origin"), [
    ("https://moodle.college.edu/moodle/mod/lti/auth.php", "https://moodle.college.edu"),
    ("https://LMS.example.edu:443/x", "https://lms.example.edu"),
    ("http://127.0.0.1:8123/sandbox/moodle", "http://127.0.0.1:8123"),
    ("https://lms.example.edu:8443", "https://lms.example.edu:8443"),
    ("javascript:alert(1)", None),
    ("https://lms.example.edu:99999/", None),
    ("", None),
])
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_canvas_cloud_frames_from_any_school_subdomain():
    origins = platform_origins("https://canvas.instructure.com",
                               "https://sso.canvaslms.com/api/lti/authorize_redirect", "")
    assert origins == ["https://canvas.instructure.com", "https://sso.canvaslms.com",
                       "https://*.instructure.com"]


def test_self_hosted_lms_adds_only_its_own_origins_and_the_extra_ones():
    origins = platform_origins("https://lms.college.edu", "https://lms.college.edu/auth",
                               "https://canvas.college.edu https://*.college.edu")
    assert origins == ["https://lms.college.edu", "https://lms.college.edu",
                       "https://canvas.college.edu", "https://*.college.edu"]
    assert "https://*.instructure.com" not in origins


@pytest.mark.parametrize("value", ["https://canvas.college.edu", "https://*.college.edu",
                                   "HTTPS://Canvas.College.edu/", "https://lms.edu:8443"])
def test_frame_origin_accepts_origins(value):
    assert check_frame_origin(value) == value.lower().rstrip("/")


@pytest.mark.parametrize("value", [
    "*", "https://*", "http://lms.college.edu", "https://lms.college.edu/path",
    "https://lms.college.edu; script-src *", "https://a.edu https://b.edu", "'self'",
    "https://lms..edu", "https://lms.edu?x=1", "https://*.*.edu", "data:", ""])
def test_frame_origin_refuses_anything_that_could_widen_the_policy(value):
    with pytest.raises(PlatformError, match="frame origin"):
        check_frame_origin(value)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_recomputes_after_ttl_and_keeps_last_list_when_db_fails():
    clock, answers = _Clock(), ["'self' https://a.edu"]

    def compute() -> str:
        if not answers:
            raise RuntimeError("database down")
        return answers.pop(0)

    cache = FrameAncestorsCache(compute, ttl=30, monotonic=clock)
    assert cache.get() == "'self' https://a.edu"
    answers.append("'self' https://b.edu")
    clock.now = 10
    assert cache.get() == "'self' https://a.edu"  # still fresh
    clock.now = 31
    assert cache.get() == "'self' https://b.edu"
    clock.now = 62
    assert cache.get() == "'self' https://b.edu"  # DB down: last list kept, not '*'
    answers.append("'self' https://c.edu")
    clock.now = 64
    assert cache.get() == "'self' https://b.edu"  # retried only after a short pause
    clock.now = 68
    assert cache.get() == "'self' https://c.edu"


def test_cache_before_any_read_allows_only_self():
    def compute() -> str:
        raise RuntimeError("database down")

    assert FrameAncestorsCache(compute).get() == "'self'"
