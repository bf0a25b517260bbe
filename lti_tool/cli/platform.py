"""``cpt-lti platform``: the LMS platforms (issuer + client id) allowed to launch the tool,
their deployments, and the Dynamic Registrations waiting for approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from lti_tool.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
    _database,
    _echo_json,
    _settings,
)
from lti_tool.lti.platforms import (
    LmsFamily,
    PlatformError,
    PlatformNotFoundError,
    PlatformService,
    PlatformSpec,
    platform_as_dict,
)
from lti_tool.models import DeploymentPolicy


@click.group(short_help="Register, list and remove LMS platforms.")
def platform() -> None:
    """Register the LMSs (issuer + client id) allowed to launch the tool."""


@platform.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. "
              "https://canvas.instructure.com.")
@click.option("--client-id", required=True,
              help="Client id the platform assigned to this tool (the aud of its tokens).")
@click.option("--auth-login-url", required=True,
              help="Platform OIDC authorization endpoint the login redirects to.")
@click.option("--auth-token-url", required=True,
              help="Platform OAuth2 token endpoint, used for grades and rosters.")
@click.option("--key-set-url", required=True,
              help="Platform JWKS URL whose keys sign its id_tokens.")
@click.option("--deployment-id", "deployment_ids", multiple=True, metavar="ID",
              help="A deployment id to accept; repeat for several.")
@click.option("--name", default=None, help="A label for people, e.g. 'Canvas (Riverside CC)'.")
@click.option("--auth-audience", default=None,
              help="aud for client assertions when the token endpoint wants another value.")
@click.option("--deployment-policy", default=None,
              type=click.Choice([p.value for p in DeploymentPolicy]),
              help="What to do with unknown deployment ids: refuse them (strict) or record "
                   "them (auto-register). Default for a new platform: the lti.deployment_policy "
                   "setting.")
@click.option("--frame-origin", "frame_origins", multiple=True, metavar="ORIGIN",
              help="An origin the LMS shows the tool from when its issuer and login URL do "
                   "not name it (e.g. a vanity Canvas domain https://canvas.college.edu); "
                   "repeat for several. Given at all, it replaces the platform's list.")
@click.option("--lms", "lms_family", default=None,
              type=click.Choice([f.value for f in LmsFamily]),
              help="Which LMS it is (Canvas gets Canvas's score extension and Canvas Cloud's "
                   "hosts). Default for a new platform: detected from the issuer and login "
                   "URL - a self-hosted Canvas on a college domain is not, so say --lms "
                   "canvas; an existing one keeps its own.")
@click.option("--staff-role", "staff_roles", multiple=True, metavar="ROLE",
              help="A sub-role that opens the instructor view on its own, without its parent "
                   "role, e.g. Instructor#TeachingAssistant; repeat for several. Default: "
                   "none (a bare sub-role gets the student view). Given at all, it replaces "
                   "the platform's list; --staff-role '' clears it.")
def platform_add(issuer: str, client_id: str, auth_login_url: str, auth_token_url: str,
                 key_set_url: str, deployment_ids: tuple[str, ...], name: str | None,
                 auth_audience: str | None, deployment_policy: str | None,
                 frame_origins: tuple[str, ...], lms_family: str | None,
                 staff_roles: tuple[str, ...]) -> None:
    """Register a platform, or update one and add deployment ids to it."""
    settings = _settings()
    spec = PlatformSpec(issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
                        auth_token_url=auth_token_url, key_set_url=key_set_url,
                        deployment_ids=deployment_ids, name=name, auth_audience=auth_audience,
                        deployment_policy=deployment_policy,
                        frame_origins=frame_origins or None, lms_family=lms_family,
                        staff_roles=staff_roles or None)
    with _database(settings) as session:
        try:
            result = PlatformService(session).add(spec, default_policy=settings.deployment_policy)
        except PlatformError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        row = result.platform
        verb = "registered" if result.created else "updated"
        click.echo(f"{verb} platform {row.id}: {row.issuer} client {row.client_id}")
        if result.changed_fields:
            click.echo(f"changed: {', '.join(result.changed_fields)}")
        if result.added_deployments:
            click.echo(f"deployments added: {', '.join(result.added_deployments)}")
        elif deployment_ids:
            click.echo("deployments: already registered")


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def platform_list(as_json: bool) -> None:
    """List registered platforms and their deployment ids, then the Dynamic Registrations
    waiting for approval (`platform approve ID`)."""
    from lti_tool.lti.registration import pending_as_dict, pending_registrations

    with _database(_settings()) as session:
        platforms = PlatformService(session).list()
        rows = [platform_as_dict(p) for p in platforms]
        pending = [pending_as_dict(session, r) for r in pending_registrations(session)]
    if as_json:
        _echo_json(rows + pending)  # waiting ones carry "pending_registration": their id
        return
    for item in pending:
        what = (f"new URLs for platform {item['replaces_platform']}"
                if item["replaces_platform"] else "a new platform")
        click.echo(f"waiting for approval: registration {item['pending_registration']}  "
                   f"{item['name'] or '-'}  {item['issuer']}  client={item['client_id']}  "
                   f"({what}: login={item['auth_login_url']}  "
                   f"token={item['auth_token_url']}  jwks={item['key_set_url']}"
                   + (f"  deployment={item['deployment_id']}" if item["deployment_id"]
                      else "")
                   + f")  approve: cpt-lti platform approve {item['pending_registration']}")
    if not rows:
        click.echo("no platforms registered")
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        deployments = ", ".join(row["deployments"]) or "-"
        click.echo(f"{row['id']}  {row['name'] or '-'}  {row['issuer']}  "
                   f"client={row['client_id']}  lms={row['lms_family']}  {state}  "
                   f"policy={row['deployment_policy']}  "
                   f"deployments={deployments}  last_launch={row['last_launch_at'] or '-'}"
                   + (f"  frame_origins={' '.join(row['frame_origins'])}"
                      if row["frame_origins"] else "")
                   + (f"  staff_roles={' '.join(row['staff_roles'])}"
                      if row["staff_roles"] else ""))


@platform.command("remove")
@click.option("--issuer", required=True, help="Issuer of the platform to remove.")
@click.option("--client-id", required=True, help="Client id of the platform to remove.")
def platform_remove(issuer: str, client_id: str) -> None:
    """Remove a platform with its deployments, users and courses."""
    with _database(_settings()) as session:
        try:
            row = PlatformService(session).remove(issuer, client_id)
        except PlatformNotFoundError as exc:
            raise CliError(str(exc.args[0])) from exc
        click.echo(f"removed platform {row.id}: {row.issuer} client {row.client_id}")


def _set_platform(issuer: str, client_id: str, deployment_id: str | None,
                  enabled: bool) -> None:
    from sqlalchemy import select

    from lti_tool.models import Deployment, Platform

    with _database(_settings()) as session:
        row = session.scalars(select(Platform).where(Platform.issuer == issuer,
                                                     Platform.client_id == client_id)).first()
        if row is None:
            raise CliError(f"no platform with issuer {issuer} and client id {client_id}")
        state = "enabled" if enabled else "disabled"
        if deployment_id is None:
            row.enabled = enabled
            click.echo(f"{state} platform {row.id}: {row.issuer} client {row.client_id}")
            return
        deployment = session.scalars(select(Deployment).where(
            Deployment.platform_id == row.id, Deployment.deployment_id == deployment_id)).first()
        if deployment is None:
            raise CliError(f"platform {row.id} has no deployment {deployment_id}")
        deployment.enabled = enabled
        click.echo(f"{state} deployment {deployment_id} of platform {row.id}")


_PLATFORM_KEYS = [
    click.option("--issuer", required=True, help="Issuer of the platform."),
    click.option("--client-id", required=True, help="Client id of the platform."),
    click.option("--deployment-id", default=None,
                 help="Only this deployment (otherwise the whole platform)."),
]


def _platform_keys(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_PLATFORM_KEYS):
        command = option(command)
    return command


@platform.command("enable")
@_platform_keys
def platform_enable(issuer: str, client_id: str, deployment_id: str | None) -> None:
    """Allow launches from a disabled platform or deployment (a Dynamic Registration
    waiting for approval is accepted with `platform approve`)."""
    _set_platform(issuer, client_id, deployment_id, True)


@platform.command("disable")
@_platform_keys
def platform_disable(issuer: str, client_id: str, deployment_id: str | None) -> None:
    """Refuse launches from a platform or one deployment (its data stays)."""
    _set_platform(issuer, client_id, deployment_id, False)


@platform.command("approve")
@click.argument("registration_id", type=click.IntRange(1, 2 ** 31 - 1))
def platform_approve(registration_id: int) -> None:
    """Accept a Dynamic Registration waiting for approval (its id is in `platform list`):
    a new platform is registered and enabled; for one already registered its login,
    token and key-set URLs are replaced (its enabled state is kept)."""
    from lti_tool.lti.registration import RegistrationError, approve_registration

    settings = _settings()
    with _database(settings) as session:
        try:
            done = approve_registration(session, settings, registration_id)
        except RegistrationError as exc:
            raise CliError(str(exc)) from exc
        row = done.platform
        if done.created:
            click.echo(f"registered platform {row.id}: {row.issuer} client {row.client_id}")
        else:
            click.echo(f"updated platform {row.id}: {row.issuer} client {row.client_id}"
                       + (f"; changed: {', '.join(done.changed)}" if done.changed else ""))
            if not row.enabled:
                click.echo("it is disabled: `cpt-lti platform enable` allows its launches")


@platform.command("reject")
@click.argument("registration_id", type=click.IntRange(1, 2 ** 31 - 1))
def platform_reject(registration_id: int) -> None:
    """Discard a Dynamic Registration waiting for approval (nothing else changes)."""
    from lti_tool.lti.registration import RegistrationError, reject_registration

    with _database(_settings()) as session:
        try:
            row = reject_registration(session, registration_id)
        except RegistrationError as exc:
            raise CliError(str(exc)) from exc
        click.echo(f"rejected registration {registration_id}: {row.issuer} client "
                   f"{row.client_id}")


@platform.command("check")
@click.argument("issuer")
@click.option("--client-id", default=None,
              help="Which of the issuer's platforms (needed when several share the issuer, "
                   "as Canvas Cloud's do).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def platform_check(issuer: str, client_id: str | None, as_json: bool) -> None:
    """The launch doctor: check that a platform's registration works end to end (its key
    set, the tool's key set as the LMS sees it, tokens for grades and roster, a read-only
    grade and roster call, URLs, framing and cookies, clock skew). One line per check;
    exit 0 when all pass, 1 when any fails."""
    from sqlalchemy import select

    from lti_tool.cli.common import _require_schema
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.delivery.sealed import sealer_for
    from lti_tool.models import Platform
    from lti_tool.ops.doctor import run_checks
    from lti_tool.web.framing import platform_origins
    from lti_tool.web.runtime import system_clock

    for label, value in (("issuer", issuer), ("client id", client_id)):
        if value is not None and (not value or len(value) > 255 or not value.isprintable()):
            raise CliError(f"the {label} must be 1 to 255 printable characters", EXIT_USAGE)
    settings = _settings()
    _require_schema(settings)
    engine = make_engine(settings.database_url)
    try:
        sessions = make_session_factory(engine, sealer_for(settings))
        with sessions() as db:
            query = select(Platform.id, Platform.client_id).where(Platform.issuer == issuer)
            if client_id is not None:
                query = query.where(Platform.client_id == client_id)
            found = db.execute(query.order_by(Platform.client_id).limit(21)).all()
        if not found:
            raise CliError(f"no platform with issuer {issuer}"
                           + (f" and client id {client_id}" if client_id else "")
                           + ": see `cpt-lti platform list`", EXIT_USAGE)
        if len(found) > 1:
            raise CliError(f"{len(found)} platforms have issuer {issuer}: say which with "
                           f"--client-id ({', '.join(row.client_id for row in found[:20])})",
                           EXIT_USAGE)
        report = run_checks(sessions, settings, system_clock, found[0].id, platform_origins,
                            ran_by="cpt-lti platform check")
    finally:
        engine.dispose()
    if as_json:
        _echo_json({"platform": report.platform_id, "ran_at": report.ran_at.isoformat(),
                    "ok": report.ok, "checks": [r.as_dict() for r in report.results]})
    else:
        for result in report.results:
            click.echo(result.line())
    if not report.ok:
        raise CliError(f"{len(report.failed)} check(s) failed: "
                       + ", ".join(r.name for r in report.failed), EXIT_FAILED)
