"""The LMS family: detected once per platform, and every per-LMS difference keyed on it;
and the one table that turns pylti1p3's refusals into launch errors."""

from __future__ import annotations

import jwt
import pytest
from pylti1p3.exception import LtiException, OIDCException

from lti_tool.lti import errors
from lti_tool.lti.platforms import family
from lti_tool.lti.platforms.family import LmsFamily
from lti_tool.lti.registry import AmbiguousPlatformError

CANVAS_LOGIN = "https://sso.canvaslms.com/api/lti/authorize_redirect"


@pytest.mark.parametrize(("issuer", "login", "product", "expected"), [
    ("https://canvas.instructure.com", CANVAS_LOGIN, None, LmsFamily.CANVAS),
    ("https://canvas.beta.instructure.com", CANVAS_LOGIN, None, LmsFamily.CANVAS),
    ("https://riverbend.instructure.com", "https://riverbend.instructure.com/x", None,
     LmsFamily.CANVAS),
    ("https://moodle.college.edu", "https://moodle.college.edu/mod/lti/auth.php", None,
     LmsFamily.MOODLE),
    ("https://lms.college.edu", "https://lms.college.edu/auth", "moodle", LmsFamily.MOODLE),
    # A Canvas on a college domain is not guessed from its URLs: an admin says so ...
    ("https://canvas.college.edu", "https://canvas.college.edu/auth", None, LmsFamily.OTHER),
    # ... or its Dynamic Registration's OpenID configuration names the product (issue 19).
    ("https://canvas.college.edu", "https://canvas.college.edu/api/lti/authorize_redirect",
     "canvas", LmsFamily.CANVAS),
    ("https://d2l.college.edu", "https://d2l.college.edu/d2l/lti/authenticate", None,
     LmsFamily.OTHER),
])
def test_detect(issuer, login, product, expected):
    assert family.detect(issuer, login, product) is expected


def test_reported_family_reads_the_launch_claim_without_trusting_it():
    assert family.reported_family("canvas") is LmsFamily.CANVAS
    assert family.reported_family("Moodle") is LmsFamily.MOODLE
    assert family.reported_family("desire2learn") is LmsFamily.OTHER
    assert family.reported_family(None) is None


def test_family_from_text_names_the_choices():
    assert family.family_from_text(" Canvas ") is LmsFamily.CANVAS
    with pytest.raises(ValueError, match="canvas, moodle, other"):
        family.family_from_text("blackboard")


def test_only_canvas_scores_carry_the_submission_extension():
    assert family.score_extensions(LmsFamily.CANVAS, "2026-12-04T10:00:00+00:00") == {
        family.CANVAS_SUBMISSION: {"submitted_at": "2026-12-04T10:00:00+00:00",
                                   "new_submission": True}}
    assert family.score_extensions(LmsFamily.MOODLE, "x") == {}
    assert family.score_extensions(LmsFamily.OTHER, "x") == {}


def test_registration_speaks_canvas_placements_only_to_canvas():
    canvas = "https://canvas.instructure.com/lti/"
    assert family.registration_placements(LmsFamily.CANVAS, "LtiResourceLinkRequest") == [
        canvas + "course_navigation"]
    assert family.registration_placements(LmsFamily.CANVAS, "LtiDeepLinkingRequest") == [
        canvas + "link_selection", canvas + "assignment_selection", canvas + "editor_button"]
    assert family.registration_extensions(LmsFamily.CANVAS)[
        family.CANVAS_PRIVACY_LEVEL] == "public"
    for other in (LmsFamily.MOODLE, LmsFamily.OTHER):
        assert family.registration_placements(other, "LtiDeepLinkingRequest") == ["ContentArea"]
        assert family.registration_placements(other, "LtiResourceLinkRequest") == []
        assert family.registration_extensions(other) == {}


def test_canvas_cloud_hosts_follow_the_family_and_the_shared_issuer():
    cloud = "https://canvas.instructure.com"
    assert family.shared_issuer_suffix(LmsFamily.CANVAS, cloud) == ".instructure.com"
    # An admin who says the row is not Canvas turns the shared hosts off.
    assert family.shared_issuer_suffix(LmsFamily.OTHER, cloud) is None
    # A Canvas on its own domain has no shared issuer.
    assert family.shared_issuer_suffix(LmsFamily.CANVAS, "https://canvas.college.edu") is None


def test_canvas_cloud_configuration_may_come_from_instructure_hosts_only():
    cloud = "https://canvas.instructure.com"
    assert family.configuration_host_allowed(cloud, "https://sso.canvaslms.com/x")
    assert not family.configuration_host_allowed(cloud, "http://sso.canvaslms.com/x")
    assert not family.configuration_host_allowed(cloud, "https://evil.test/x")
    assert family.configuration_host_allowed(cloud, "http://127.0.0.1:5000/x",
                                             from_sandbox=True)
    assert not family.configuration_host_allowed("https://moodle.college.edu",
                                                 "https://sso.canvaslms.com/x")


def test_roster_paging_keeps_the_next_url_as_the_server_wrote_it():
    url = "https://moodle.college.edu/mod/lti/services.php/CourseSection/17/bindings/4/m?p=2"
    assert family.next_page_url({"next": {"url": url, "rel": "next"}}) == url
    assert family.next_page_url({}) is None


def _translate(step, exc, **kwargs):
    return errors.translate(step, exc, who={"issuer": "https://lms.test",
                                            "client_id": "c1"}, **kwargs)


def _chained(message: str, cause: Exception) -> LtiException:
    try:
        try:
            raise cause
        except Exception as inner:
            raise LtiException(message) from inner
    except LtiException as exc:
        return exc


@pytest.mark.parametrize(("step", "exc", "facts", "error", "detail"), [
    ("login", OIDCException("Could not find registration details"), {},
     errors.UnknownPlatformError, "no enabled registration for this issuer and client ID"),
    ("login", AmbiguousPlatformError("https://lms.test"), {}, errors.LoginError,
     "several registrations share this issuer and the LMS sent no client_id"),
    ("state", LtiException("State not found"), {}, errors.StaleStateError, "State not found"),
    ("registration", LtiException("Client id not registered for this issuer"), {},
     errors.WrongAudienceError, "Client id not registered for this issuer"),
    ("registration", LtiException("Registration not found."), {},
     errors.UnknownPlatformError, "no registration for this issuer and client ID"),
    ("signature", _chained("Can't decode id_token: expired",
                           jwt.ExpiredSignatureError("Signature has expired")), {},
     errors.ExpiredTokenError, "Signature has expired"),
    ("signature", LtiException("Unable to find public key"), {"kid": "k9"},
     errors.UnknownKeyError, "no key with kid 'k9' in the platform keyset"),
    ("signature", LtiException("Can't convert JWT key to PEM format"), {"kid": "k9"},
     errors.BadTokenError, "Can't convert JWT key to PEM format"),
    ("deployment", LtiException("deployment_id is not set in jwt body"),
     {"deployment_id": None}, errors.MissingClaimError,
     "the id_token has no deployment_id claim"),
    ("deployment", LtiException("Unable to find deployment"), {"deployment_id": "d1"},
     errors.UnknownDeploymentError, "deployment 'd1' is not registered or is disabled"),
    ("message", LtiException("Unrecognized message type"), {"message_type": "X"},
     errors.UnsupportedMessageError, "message type 'X' is not an LTI 1.3 message"),
    ("message", LtiException("Missing Roles Claim"), {"message_type": "X"},
     errors.MissingClaimError, "Missing Roles Claim"),
    ("launch", LtiException(""), {}, errors.BadTokenError, "LtiException"),
])
def test_pylti1p3_refusals_become_launch_errors(step, exc, facts, error, detail):
    refused = _translate(step, exc, **facts)
    assert type(refused) is error
    assert refused.detail == detail


def test_a_disabled_platform_gets_its_own_page_and_who_is_named_as_before():
    refused = _translate("login", OIDCException("x"), disabled=lambda: True)
    assert type(refused) is errors.PlatformDisabledError
    assert (refused.issuer, refused.client_id) == ("https://lms.test", "c1")
    ambiguous = _translate("login", AmbiguousPlatformError("x"), disabled=lambda: True)
    assert type(ambiguous) is errors.LoginError and ambiguous.client_id is None
    assert _translate("state", LtiException("Missing state param")).issuer is None


def test_every_step_ends_with_a_catch_all():
    for step in ("state", "jwt_format", "nonce", "registration", "signature", "deployment",
                 "message", "launch"):
        rows = [r for r in errors.TRANSLATIONS if r.step == step]
        assert rows[-1].raised is LtiException and not rows[-1].text and not rows[-1].cause


def test_migration_backfills_existing_platforms_by_the_rule_of_the_day(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from lti_tool.ops.migrate import alembic_config, upgrade_to_head

    url = f"sqlite:///{tmp_path / 'families.db'}"
    command.upgrade(alembic_config(url), "0016")
    engine = create_engine(url)
    rows = [("https://canvas.instructure.com", CANVAS_LOGIN),
            ("https://school.instructure.com", "https://school.instructure.com/auth"),
            ("http://127.0.0.1:5000/sandbox/moodle",
             "http://127.0.0.1:5000/sandbox/moodle/mod/lti/auth.php"),
            ("https://canvas.college.edu", "https://canvas.college.edu/auth")]
    with engine.begin() as conn:
        for n, (issuer, login) in enumerate(rows):
            conn.execute(text(
                "INSERT INTO platform (issuer, client_id, name, auth_login_url, auth_token_url,"
                " key_set_url, frame_origins, deployment_policy, enabled, created_at) VALUES "
                "(:i, :c, '', :l, :l, :l, '', 'strict', 1, '2026-12-01 00:00:00')"),
                {"i": issuer, "c": f"c{n}", "l": login})
    upgrade_to_head(url)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT issuer, lms_family FROM platform")).all())
    engine.dispose()
    assert found == {"https://canvas.instructure.com": "canvas",
                     "https://school.instructure.com": "canvas",
                     "http://127.0.0.1:5000/sandbox/moodle": "moodle",
                     "https://canvas.college.edu": "other"}
