"""Migration 0019 moves the roster URL from each enrolment to the course (issue 19.1): an
existing course gets the URL of its latest launch that had one, and its "last synced"
time from its roster rows; a downgrade gives every enrolment its course's URL back."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from lti_tool.ops.migrate import alembic_config

T = "2026-12-01 09:00:00.000000"
ROWS = [
    "INSERT INTO platform (id, issuer, client_id, name, auth_login_url, auth_token_url, "
    "key_set_url, deployment_policy, enabled, created_at) VALUES (1, 'https://lms', 'c', "
    f"'LMS', 'https://lms/a', 'https://lms/t', 'https://lms/k', 'strict', 1, '{T}')",
    "INSERT INTO deployment (id, platform_id, deployment_id, enabled, auto_registered, "
    f"created_at) VALUES (1, 1, 'd', 1, 0, '{T}')",
    f"INSERT INTO course (id, deployment_id, context_id, created_at) VALUES (1, 1, 'A', '{T}')",
    f"INSERT INTO course (id, deployment_id, context_id, created_at) VALUES (2, 1, 'B', '{T}')",
    *[f"INSERT INTO lti_user (id, platform_id, sub, created_at, last_seen_at) VALUES "
      f"({n}, 1, 'u{n}', '{T}', '{T}')" for n in (1, 2, 3)],
    # Course A: the teacher's older launch named the URL, the newest launch (Deep
    # Linking) erased it on their row; a student's launch in between named the same URL.
    "INSERT INTO enrollment (id, course_id, user_id, role, lti_roles, nrps_url, "
    "last_launch_at) VALUES (1, 1, 1, 'instructor', '[]', NULL, '2026-12-03 09:00:00.000000')",
    "INSERT INTO enrollment (id, course_id, user_id, role, lti_roles, nrps_url, "
    "last_launch_at) VALUES (2, 1, 2, 'learner', '[]', 'https://lms/new', "
    "'2026-12-02 09:00:00.000000')",
    "INSERT INTO enrollment (id, course_id, user_id, role, lti_roles, nrps_url, "
    "last_launch_at) VALUES (3, 1, 3, 'learner', '[]', 'https://lms/old', "
    "'2026-12-01 09:00:00.000000')",
    "INSERT INTO roster_member (id, course_id, sub, role, status, synced_at) VALUES "
    "(1, 1, 'u2', 'learner', 'Active', '2026-12-02 10:00:00.000000')",
]


def test_the_course_gets_its_latest_roster_url_and_gives_it_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "0018")
    engine = create_engine(url)
    with engine.begin() as conn:
        for row in ROWS:
            conn.execute(text(row))
    command.upgrade(alembic_config(url), "0019")
    with engine.begin() as conn:
        courses = conn.execute(text("SELECT id, nrps_url, roster_synced_at, roster_claimed_at "
                                    "FROM course ORDER BY id")).all()
    assert [(c[0], c[1], c[3]) for c in courses] == [(1, "https://lms/new", None),
                                                     (2, None, None)]
    assert str(courses[0][2]).startswith("2026-12-02 10:00") and courses[1][2] is None
    command.downgrade(alembic_config(url), "0018")
    with engine.begin() as conn:
        urls = conn.execute(text("SELECT nrps_url FROM enrollment ORDER BY id")).scalars()
        assert list(urls) == ["https://lms/new"] * 3
    engine.dispose()
