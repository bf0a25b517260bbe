"""The launch doctor's pure parts (ops/doctor.py): what an LMS said, cut to one line; the
clock skew from Date headers; framing and cookies by environment. The checks against a
real (sandbox) LMS are in tests/integration/test_launch_doctor.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

from lti_tool.ops import doctor
from lti_tool.settings import Settings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class _Headers(dict):
    def __init__(self, dates: list[str]) -> None:
        super().__init__({"Date": dates[-1]} if dates else {})
        self.dates = dates

    def getlist(self, name: str) -> list[str]:
        return list(self.dates) if name == "Date" else []


def _answers(*offsets: float) -> doctor._Answers:
    dates = [format_datetime(NOW + timedelta(seconds=o), usegmt=True) for o in offsets]
    headers = _Headers(dates)
    resp = SimpleNamespace(raw=SimpleNamespace(headers=headers), headers=headers)
    return doctor._Answers(token_response=(resp, NOW, NOW))  # type: ignore[arg-type]


def test_what_the_lms_said_becomes_one_short_printable_line():
    said = doctor._said("<b>oops</b>\r\n\x1b[31m" + "y" * 500)
    assert "\n" not in said and "\x1b" not in said
    assert len(said) == doctor.SAID_LENGTH and said.endswith("…")
    assert said.startswith("<b>oops</b>")  # escaped where it is shown, not here


def test_clock_skew_passes_within_the_limit_and_names_the_direction_beyond_it():
    assert doctor.check_clock(_answers(30)).status == doctor.OK
    ahead = doctor.check_clock(_answers(90))
    assert ahead.status == doctor.FAILED and "90 s ahead of" in ahead.detail
    behind = doctor.check_clock(_answers(-3600))
    assert behind.status == doctor.FAILED and "3600 s behind" in behind.detail
    assert "NTP" in behind.fix


def test_of_several_date_headers_the_one_furthest_off_counts():
    # A proxy's correct Date and an LMS server's wrong one: the wrong one is the finding.
    assert doctor.check_clock(_answers(0, 120)).status == doctor.FAILED
    assert doctor.check_clock(_answers(-120, 0)).status == doctor.FAILED


def test_without_an_answer_or_a_date_the_clock_is_skipped_not_failed():
    assert doctor.check_clock(doctor._Answers()).status == doctor.SKIPPED
    assert doctor.check_clock(_answers()).status == doctor.SKIPPED


def _facts(enabled: bool = True, origins: tuple[str, ...] = ("https://lms.college.edu",)):
    return SimpleNamespace(enabled=enabled, origins=origins)


def test_framing_fails_for_a_disabled_platform_and_for_http_across_sites_in_production():
    https = Settings(base_url="https://cpt.college.edu", environment="production")
    assert doctor.check_framing(_facts(), https).status == doctor.OK  # type: ignore[arg-type]
    assert "SameSite=None; Secure" in doctor.check_framing(_facts(), https).detail  # type: ignore[arg-type]
    off = doctor.check_framing(_facts(enabled=False), https)  # type: ignore[arg-type]
    assert off.status == doctor.FAILED and "blank frame" in off.detail
    http = dataclasses.replace(https, base_url="http://cpt.example.org")
    assert doctor.check_framing(_facts(), http).status == doctor.FAILED  # type: ignore[arg-type]
    development = dataclasses.replace(http, environment="development")
    assert doctor.check_framing(_facts(), development).status == doctor.OK  # type: ignore[arg-type]
    # Another host of college.edu on the same scheme is the same site; browsers count
    # the scheme too, so an http tool in an https LMS is cross-site.
    same = dataclasses.replace(https, base_url="https://cpt.college.edu")
    assert "cross-site" not in doctor.check_framing(_facts(), same).detail  # type: ignore[arg-type]
    schemes = dataclasses.replace(http, base_url="http://cpt.college.edu")
    assert doctor.check_framing(_facts(), schemes).status == doctor.FAILED  # type: ignore[arg-type]


def test_a_failed_line_carries_what_to_fix_and_a_stored_one_is_bounded():
    result = doctor.CheckResult("x", doctor.FAILED, "d" * 2000, "do this")
    assert result.line().endswith(" - fix: do this") and not result.ok
    assert len(result.as_dict()["detail"]) == doctor.DETAIL_LENGTH
    assert doctor.CheckResult("x", doctor.SKIPPED, "later").ok
