"""DB-backed pylti1p3 tool configuration: many platforms, many deployments each.

pylti1p3 asks two questions during a launch - "which registration is (iss, client_id)?" and
"is this deployment id known?" - and this class answers both from our tables. Every issuer is
treated as having many client ids, because Canvas uses one issuer for every school.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from lti_tool.lti.keys import KeyService
from lti_tool.lti.platforms.family import shared_issuer_suffix
from lti_tool.models import Deployment, DeploymentPolicy, Platform

log = logging.getLogger(__name__)

# Built once: composing a select costs more than SQLite takes to run it (every launch).
_PLATFORM = select(Platform).where(Platform.issuer == bindparam("iss"),
                                   Platform.client_id == bindparam("client_id"),
                                   Platform.enabled.is_(True))
_DEPLOYMENT = select(Deployment).where(Deployment.platform_id == bindparam("platform_id"),
                                       Deployment.deployment_id == bindparam("deployment_id"))
# A launch names its deployment in the same token: one round trip answers both questions.
_PLATFORM_AND_DEPLOYMENT = (
    select(Platform, Deployment)
    .outerjoin(Deployment, and_(Deployment.platform_id == Platform.id,
                                Deployment.deployment_id == bindparam("deployment_id")))
    .where(Platform.issuer == bindparam("iss"), Platform.client_id == bindparam("client_id"),
           Platform.enabled.is_(True)))


@dataclass(frozen=True)
class ServiceHosts:
    """The hosts a platform's services may live on (issue 15): those of its issuer, login,
    token and key-set URLs and of the origins an admin gave for framing (plus any
    ``*.instructure.com`` host for Canvas Cloud: ``family.shared_issuer_suffix``). An AGS
    or NRPS URL a launch names elsewhere is neither stored nor called: the tool's bearer
    token for the platform must never go to another host."""

    hosts: frozenset[str]
    suffixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, platform: Platform) -> ServiceHosts:
        urls = [platform.issuer, platform.auth_login_url, platform.auth_token_url,
                platform.key_set_url, *(platform.frame_origins or "").split()]
        hosts = set()
        suffixes = []
        for url in urls:
            host = (urlsplit(url).hostname or "").rstrip(".").lower()
            if host.startswith("*."):  # a wildcard frame origin, e.g. https://*.college.edu
                suffixes.append(host[1:])
            elif host:
                hosts.add(host)
        shared = shared_issuer_suffix(platform.lms_family, platform.issuer)
        if shared:
            suffixes.append(shared)
        return cls(frozenset(hosts), tuple(suffixes))

    def allows(self, url: Any) -> bool:
        if not isinstance(url, str) or "\\" in url or "@" in urlsplit(url).netloc:
            return False
        try:
            host = (urlsplit(url).hostname or "").rstrip(".").lower()
        except ValueError:
            return False
        return bool(host) and (host in self.hosts or host.endswith(self.suffixes))


class ToolRegistration(Registration):
    """A pylti1p3 Registration that signs with our active key and names its kid.

    The key is read only when something signs (a service token, a deep-linking answer):
    validating a launch never needs it, and launches are the hot path at exam time.
    """

    def __init__(self, platform: Platform,
                 key_loader: Callable[[], tuple[str, str] | None]) -> None:
        super().__init__()
        self.platform_id = platform.id
        self.platform_name = platform.name
        self.lms_family = platform.lms_family
        self.service_hosts = ServiceHosts.of(platform)
        self._key_loader = key_loader
        self._key: tuple[str, str] | None | bool = False  # False: not loaded yet
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)

    def _active_key(self) -> tuple[str, str] | None:
        if self._key is False:
            self._key = self._key_loader()
        return self._key  # type: ignore[return-value]

    def get_kid(self) -> str | None:
        key = self._active_key()
        return key[0] if key else None

    def get_tool_private_key(self) -> str | None:
        key = self._active_key()
        return key[1] if key else None


class AmbiguousPlatformError(LookupError):
    """Several registrations share the issuer and the request did not say which client."""


class DbToolConf(ToolConfAbstract):
    def __init__(self, session: Session, defer_key: bool = False) -> None:
        """``defer_key``: read the tool's signing key only if something signs, for callers
        that use the registration inside their transaction (launch validation never signs).
        Others (AGS, deep linking) carry the registration past the transaction, so they get
        the key read up front."""
        super().__init__()
        self.session = session
        self.defer_key = defer_key
        self.issuers_relation_types = {}
        # pylti1p3 asks for the same platform several times per launch; one query serves.
        self._platforms: dict[tuple[str, str | None], Platform | None] = {}
        self._deployments: dict[tuple[int, str], Deployment] = {}
        self._expected_deployment: str | None = None
        self._prefetched: dict[tuple[int, str], Deployment | None] = {}

    def expect_deployment(self, deployment_id: Any) -> None:
        """The deployment id the launch's token names, so the platform lookup can read
        its row in the same query (validation still decides whether it is acceptable)."""
        self._expected_deployment = deployment_id if isinstance(deployment_id, str) else None

    # Every issuer may have many client ids (Canvas), so pylti1p3 always calls *_by_params.
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> Platform | None:
        if (iss, client_id) not in self._platforms:
            self._platforms[(iss, client_id)] = self._find_platform(iss, client_id)
        return self._platforms[(iss, client_id)]

    def is_disabled(self, iss: str, client_id: str | None) -> bool:
        """Whether the refused issuer and client id name a platform an admin disabled (for
        the refusal page only; launches never see a disabled platform)."""
        if not isinstance(iss, str) or not isinstance(client_id, str) or not client_id:
            return False
        return self.session.scalar(select(Platform.id).where(
            Platform.issuer == iss, Platform.client_id == client_id,
            Platform.enabled.is_(False))) is not None

    def _find_platform(self, iss: str, client_id: str | None) -> Platform | None:
        if client_id and self._expected_deployment is not None:
            found = self.session.execute(_PLATFORM_AND_DEPLOYMENT, {
                "iss": iss, "client_id": client_id,
                "deployment_id": self._expected_deployment}).first()
            if found is None:
                return None
            platform, deployment = found
            self._prefetched[(platform.id, self._expected_deployment)] = deployment
            return platform
        if client_id:
            return self.session.scalars(_PLATFORM, {"iss": iss, "client_id": client_id}
                                        ).first()
        query = select(Platform).where(Platform.issuer == iss, Platform.enabled.is_(True))
        candidates = list(self.session.scalars(query.limit(2)))
        if len(candidates) > 1:
            raise AmbiguousPlatformError(iss)
        return candidates[0] if candidates else None

    def _registration(self, platform: Platform | None) -> ToolRegistration | None:
        if platform is None:
            return None

        def active_key() -> tuple[str, str] | None:
            keys = KeyService(self.session)
            active = keys.active()
            return (active.kid, keys.private_pem(active)) if active else None

        registration = ToolRegistration(platform, active_key)
        if not self.defer_key:
            registration.get_kid()  # loads the key now, while the session is open
        return registration

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any):
        return self._registration(self.find_platform(iss, None))

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any):
        return self._registration(self.find_platform(iss, client_id))

    def find_deployment(self, iss: str, deployment_id: str):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.find_platform(iss, client_id)
        if platform is None:
            return None
        key = (platform.id, deployment_id)
        row = (self._prefetched[key] if key in self._prefetched else self.session.scalars(
            _DEPLOYMENT, {"platform_id": platform.id, "deployment_id": deployment_id}).first())
        if row is None and platform.deployment_policy == DeploymentPolicy.AUTO_REGISTER:
            # Course copies and sub-account installs mint new ids; record them for the admin.
            row = Deployment(platform_id=platform.id, deployment_id=deployment_id,
                             auto_registered=True)
            self.session.add(row)
            self.session.flush()
            log.info("auto-registered deployment %s for %s / %s", deployment_id, iss,
                     platform.client_id)
        if row is None or not row.enabled:
            return None
        self._deployments[(platform.id, deployment_id)] = row
        return LtiDeployment().set_deployment_id(row.deployment_id)

    def known_deployment(self, platform_id: int, deployment_id: str) -> Deployment | None:
        """The deployment row this launch was validated against (saves reading it again)."""
        return self._deployments.get((platform_id, deployment_id))
