"""DB-backed pylti1p3 tool configuration: many platforms, many deployments each.

pylti1p3 asks two questions during a launch - "which registration is (iss, client_id)?" and
"is this deployment id known?" - and this class answers both from our tables. Every issuer is
treated as having many client ids, because Canvas uses one issuer for every school.
"""

from __future__ import annotations

import logging
from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.keys import KeyService
from lti_tool.models import Deployment, DeploymentPolicy, Platform

log = logging.getLogger(__name__)


class ToolRegistration(Registration):
    """A pylti1p3 Registration that signs with our active key and names its kid."""

    def __init__(self, platform: Platform, kid: str | None, private_pem: str | None) -> None:
        super().__init__()
        self.platform_id = platform.id
        self.platform_name = platform.name
        self._kid = kid
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)
        if private_pem:
            self.set_tool_private_key(private_pem)

    def get_kid(self) -> str | None:
        return self._kid


class AmbiguousPlatformError(LookupError):
    """Several registrations share the issuer and the request did not say which client."""


class DbToolConf(ToolConfAbstract):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.issuers_relation_types = {}

    # Every issuer may have many client ids (Canvas), so pylti1p3 always calls *_by_params.
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> Platform | None:
        query = select(Platform).where(Platform.issuer == iss, Platform.enabled.is_(True))
        if client_id:
            return self.session.scalars(query.where(Platform.client_id == client_id)).first()
        candidates = list(self.session.scalars(query.limit(2)))
        if len(candidates) > 1:
            raise AmbiguousPlatformError(iss)
        return candidates[0] if candidates else None

    def _registration(self, platform: Platform | None) -> ToolRegistration | None:
        if platform is None:
            return None
        keys = KeyService(self.session)
        active = keys.active()
        return ToolRegistration(
            platform,
            active.kid if active else None,
            active.private_key_pem if active else None,
        )

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
        row = self.session.scalars(
            select(Deployment).where(
                Deployment.platform_id == platform.id,
                Deployment.deployment_id == deployment_id,
            )
        ).first()
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
        return LtiDeployment().set_deployment_id(row.deployment_id)
