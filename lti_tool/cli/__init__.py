"""The ``cpt-lti`` command: thin wrappers over the services, with operator-friendly failures.

Every command exits 0 when it did its job, 1 when a check failed (a key that cannot be
retired, a platform that is not there, a database that is not initialised) and 2 on bad
usage (a malformed URL, an invalid setting). A failure is one ``error: ...`` line on stderr,
never a traceback: operators run this from scripts and read it in CI logs.

One module per noun (init, serve, platform, admin, user, keys, sealing, worker, outbox, lrs,
content, grades), each defining its command or group; this package assembles them into the
``cpt-lti`` group. What they share (CliError, the exit codes, settings, the database,
passwords) is in ``common``.
"""

from __future__ import annotations

import click

from lti_tool.cli import (
    admin,
    content,
    grades,
    init,
    keys,
    lrs,
    outbox,
    platform,
    sealing,
    serve,
    user,
    worker,
)
from lti_tool.cli.common import _Group


@click.group(name="cpt-lti", cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """CPT Practice LTI 1.3 tool: set up, serve and administer.

    Configuration comes from config/default.toml, the file named by CPT_LTI_CONFIG and
    CPT_LTI_* environment variables (e.g. CPT_LTI_DATABASE_URL).
    """


cli.add_command(init.init)
cli.add_command(serve.serve)
cli.add_command(platform.platform)
cli.add_command(admin.admin)
cli.add_command(user.user)
cli.add_command(keys.keys)
cli.add_command(sealing.sealing)
cli.add_command(worker.worker)
cli.add_command(outbox.outbox)
cli.add_command(lrs.lrs)
cli.add_command(content.content)
cli.add_command(grades.grades)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="cpt-lti")
