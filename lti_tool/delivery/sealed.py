"""Secrets kept in the database, sealed with the sealing key (``CPT_LTI_SEALING_KEY``).

The tool's RSA private keys and the colleges' LRS passwords live in the database so every
process can use them. A database backup or a read-only SQL account must not hand them out,
so they are sealed with Fernet (``cryptography``). The sealing key is *separate* from the
cookie secret: the cookie secret is shared with every web process and may be rotated on its
own (signing everyone out), and before issue 15 a derived key made the public development
secret open every college's LRS password.

``CPT_LTI_SEALING_KEY`` holds one or more Fernet keys, comma separated, newest first:
``MultiFernet`` seals with the first and opens with any, which is what a rotation needs
(put the new key first, run ``cpt-lti sealing rotate``, then drop the old one). In
development and test, with no key given, one is generated into ``var/sealing.key`` (mode
0600) on first use; production refuses to start without one (``Settings.validate``).

Every sealed column is listed once in ``SealedValues``: ``cpt-lti init`` migrates rows
written before the sealing key existed (plain PEM private keys, LRS passwords sealed with
the secret-derived key) and ``cpt-lti sealing rotate`` re-seals them all.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from lti_tool.settings import Settings

# Where development and test keep a generated key, relative to the working directory like
# the default SQLite database (var/cpt-lti.db) and the local Ralph LRS (var/ralph).
DEV_KEY_FILE = Path("var") / "sealing.key"
NEW_KEY_HINT = "make one with `cpt-lti sealing new-key`"
# Session.info key under which lti_tool.db.make_session_factory hands a Sealer to KeyService.
SEALER_INFO_KEY = "cpt_lti_sealer"


class SealingKeyError(ValueError):
    """The sealing key setting is missing or is not a list of Fernet keys."""


class UnsealError(ValueError):
    """A sealed value cannot be opened with any of the configured sealing keys."""


def new_key() -> str:
    """A fresh random Fernet key, as ``CPT_LTI_SEALING_KEY`` takes it."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str) -> list[str]:
    """The comma-separated keys of the setting, newest first; each checked by Fernet itself.

    The message names a key by its position only: the value is a secret.
    """
    keys = [part.strip() for part in text.split(",") if part.strip()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
            raise SealingKeyError(
                f"CPT_LTI_SEALING_KEY entry {number} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes); {NEW_KEY_HINT}") from exc
    return keys


class Sealer:
    """Seals with the first key, opens with any: the keyring of ``CPT_LTI_SEALING_KEY``."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SealingKeyError(f"no sealing key: set CPT_LTI_SEALING_KEY ({NEW_KEY_HINT})")
        self._first = Fernet(keys[0].encode("ascii"))
        self._all = MultiFernet([Fernet(k.encode("ascii")) for k in keys])

    def __repr__(self) -> str:  # never the keys
        return "Sealer(...)"

    def seal(self, plain: str) -> str:
        return self._all.encrypt(plain.encode("utf-8")).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._all.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UnsealError("a stored secret cannot be opened with CPT_LTI_SEALING_KEY: if "
                              "the key was replaced, list the previous one after it and run "
                              "`cpt-lti sealing rotate`") from exc

    def opens(self, sealed: str) -> bool:
        try:
            self.unseal(sealed)
        except UnsealError:
            return False
        return True

    def is_current(self, sealed: str) -> bool:
        """Sealed with the first (newest) key, so a rotation has nothing to do for it."""
        try:
            self._first.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the first key (MultiFernet.rotate)."""
        try:
            return self._all.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UnsealError("a stored secret cannot be opened with CPT_LTI_SEALING_KEY"
                              ) from exc


def _dev_key(path: Path) -> str:
    """The generated development key, made on first use. Written to a private temporary
    file and linked into place, so two processes starting together agree on one key and
    none ever reads a half-written file."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sealing-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(new_key() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: use its key
    finally:
        os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()


def sealer_for(settings: Settings) -> Sealer:
    """The keyring the settings name; in development and test, the generated one if none."""
    if settings.sealing_key.strip():
        return _sealer(settings.sealing_key, None)
    if settings.environment == "production":
        raise SealingKeyError(f"CPT_LTI_SEALING_KEY must be set in production ({NEW_KEY_HINT})")
    return _sealer("", DEV_KEY_FILE.resolve())


@lru_cache(maxsize=16)
def _sealer(setting: str, key_file: Path | None) -> Sealer:
    """One Sealer per key list (the Fernet objects are reused by every request)."""
    return Sealer(parse_keys(setting) if key_file is None else [_dev_key(key_file)])


def legacy_unseal(secret_key: str, sealed: str) -> str:
    """Open a value sealed the pre-issue-15 way (Fernet key = HKDF of the cookie secret).
    Only ``SealedValues`` calls it, to migrate such values; nothing seals this way now."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"cpt-lti sealed credentials v1").derive(secret_key.encode("utf-8"))
    try:
        return Fernet(base64.urlsafe_b64encode(key)).decrypt(sealed.encode("ascii")
                                                             ).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise UnsealError("not sealed with the secret-derived key either") from exc


# --- every sealed column, for migration and rotation ------------------------------------------

@dataclass
class SealedReport:
    """What a pass over the sealed columns found (``rotate``) or changed (``migrate``)."""

    current: int = 0  # sealed with the first key
    older: int = 0  # sealed with a later key of the list: `sealing rotate` re-seals them
    migrated: dict[str, int] = field(default_factory=dict)  # plain / secret-derived -> sealed
    resealed: int = 0
    by_column: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # "key:<kid>", "lrs:<id>"

    @property
    def to_migrate(self) -> int:
        return sum(self.migrated.values())


@dataclass
class _Value:
    label: str  # "key:<kid>" or "lrs:<id>": what an operator can look up
    column: str  # "tool_keys" or "lrs_passwords"
    row: object
    attribute: str
    plain_ok: bool  # a plain value is recognisable (a PEM) and may be sealed as it is

    @property
    def value(self) -> str:
        return str(getattr(self.row, self.attribute))

    def store(self, sealed: str) -> None:
        setattr(self.row, self.attribute, sealed)


class SealedValues:
    """The sealed columns of the database, walked by ``init`` (migrate) and ``rotate``."""

    def __init__(self, session: Session, sealer: Sealer, secret_key: str) -> None:
        self.session = session
        self.sealer = sealer
        self.secret_key = secret_key

    def _values(self) -> Iterator[_Value]:
        from lti_tool.models import LrsEndpoint, ToolKey

        for key in self.session.scalars(select(ToolKey).order_by(ToolKey.id)):
            yield _Value(f"key:{key.kid}", "tool_keys", key, "private_key_sealed", True)
        for lrs in self.session.scalars(select(LrsEndpoint).order_by(LrsEndpoint.id)):
            yield _Value(f"lrs:{lrs.id}", "lrs_passwords", lrs, "password_sealed", False)

    def _old_plain(self, item: _Value) -> tuple[str, str] | None:
        """(how it was stored, the plain secret) for a value written before issue 15."""
        if item.plain_ok and item.value.lstrip().startswith("-----BEGIN"):
            return "plain", item.value
        try:
            return "secret-derived", legacy_unseal(self.secret_key, item.value)
        except UnsealError:
            return None

    def status(self) -> SealedReport:
        """Count without changing anything (``cpt-lti sealing status``)."""
        report = SealedReport()
        for item in self._values():
            if self.sealer.is_current(item.value):
                report.current += 1
            elif self.sealer.opens(item.value):
                report.older += 1
            elif (old := self._old_plain(item)) is not None:
                report.migrated[old[0]] = report.migrated.get(old[0], 0) + 1
            else:
                report.unreadable.append(item.label)
        return report

    def migrate(self) -> SealedReport:
        """Seal what was stored before the sealing key existed; leave the rest alone."""
        report = SealedReport()
        for item in self._values():
            if self.sealer.opens(item.value):
                continue
            old = self._old_plain(item)
            if old is None:
                report.unreadable.append(item.label)
                continue
            item.store(self.sealer.seal(old[1]))
            report.migrated[old[0]] = report.migrated.get(old[0], 0) + 1
        self.session.flush()
        return report

    def rotate(self) -> SealedReport:
        """Re-seal every value with the first key. Raises UnsealError, naming the values,
        if any cannot be opened: the caller's transaction then changes nothing."""
        report = SealedReport()
        items = list(self._values())
        for item in items:
            if not self.sealer.opens(item.value) and self._old_plain(item) is None:
                report.unreadable.append(item.label)
        if report.unreadable:
            raise UnsealError(f"{', '.join(report.unreadable)} cannot be opened with any key "
                              "in CPT_LTI_SEALING_KEY; keep the previous key listed after "
                              "the new one until the rotation is done")
        for item in items:
            if self.sealer.opens(item.value):
                item.store(self.sealer.reseal(item.value))
            else:
                old = self._old_plain(item)
                assert old is not None
                item.store(self.sealer.seal(old[1]))
            report.resealed += 1
            report.by_column[item.column] = report.by_column.get(item.column, 0) + 1
        self.session.flush()
        return report
