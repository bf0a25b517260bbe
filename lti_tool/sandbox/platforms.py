"""The sandbox platforms: one shaped like Canvas Cloud, one like Moodle, and a self-hosted
Canvas.

Identifiers, endpoint paths and claims follow what those LMSs really send, so the tool is
exercised against realistic launches: Canvas's shared issuer, numeric client ids, long
deployment ids and ``lti_storage_target``; Moodle's wwwroot issuer, short random client
id, deployment "1" and its ``/mod/lti/*.php`` endpoints. The self-hosted Canvas is Canvas
on a college's own server: Canvas's paths and claims under its own issuer (no
``instructure.com`` in it). It is not registered with the tool up front: it registers by
Dynamic Registration (``/sandbox/canvas-hosted/register-tool``), as a college would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lti_tool.settings import Settings

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
AGS_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass(frozen=True)
class Person:
    sub: str
    given_name: str
    family_name: str
    email: str
    persona: str  # learner / instructor / ta / admin

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class SandboxPlatform:
    key: str
    name: str
    client_id: str
    deployment_id: str
    context_id: str
    context_label: str
    context_title: str
    auth_path: str
    token_path: str
    jwks_path: str
    people: tuple[Person, ...]
    roles: dict[str, tuple[str, ...]]
    fixed_issuer: str | None = None
    storage_target: str | None = None
    # Which LMS it behaves like ("canvas" or "moodle"): its paths, claims and registration.
    shape: str = "moodle"
    # Registered with the tool when the sandbox starts (else only by Dynamic Registration).
    preregistered: bool = True

    def base(self, settings: Settings) -> str:
        # A separate sandbox origin makes the LMS and the tool different sites, as in real
        # life: that is how the e2e tests see third-party cookie blocking.
        root = (settings.sandbox_base_url or settings.base_url).rstrip("/")
        return f"{root}/sandbox/{self.key}"

    def issuer(self, settings: Settings) -> str:
        return self.fixed_issuer or self.base(settings)

    def endpoint(self, settings: Settings, path: str) -> str:
        return self.base(settings) + path

    def person(self, sub: str) -> Person | None:
        return next((p for p in self.people if p.sub == sub), None)


CANVAS = SandboxPlatform(
    key="canvas",
    name="Sandbox Canvas (Riverbend Community College)",
    # Canvas Cloud uses one issuer for every school; the client id is the developer key id.
    fixed_issuer="https://canvas.instructure.com",
    client_id="10000000000042",
    deployment_id="42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
    context_id="4dde05e8ca1973bcca9bffc13e1548820eee93a3",
    context_label="MFG-101",
    context_title="MFG 101 Production Technician Foundations",
    auth_path="/api/lti/authorize_redirect",
    token_path="/login/oauth2/token",
    jwks_path="/api/lti/security/jwks",
    people=(
        Person("c3b1a0f2-5b0e-4d0e-9a51-000000000001", "Ana", "Reyes", "ana@riverbend.example.edu",
               "learner"),
        Person("c3b1a0f2-5b0e-4d0e-9a51-000000000002", "Ben", "Okafor", "ben@riverbend.example.edu",
               "learner"),
        Person("c3b1a0f2-5b0e-4d0e-9a51-000000000003", "Carla", "Nguyen",
               "carla@riverbend.example.edu", "instructor"),
        Person("c3b1a0f2-5b0e-4d0e-9a51-000000000004", "Dev", "Patel", "dev@riverbend.example.edu",
               "ta"),
    ),
    roles={
        "learner": (LIS + "institution/person#Student", LIS + "membership#Learner",
                    LIS + "system/person#User"),
        "instructor": (LIS + "institution/person#Instructor", LIS + "membership#Instructor",
                       LIS + "system/person#User"),
        "ta": (LIS + "membership#Instructor", LIS + "membership/Instructor#TeachingAssistant",
               LIS + "system/person#User"),
        "admin": (LIS + "institution/person#Administrator", LIS + "membership#Instructor",
                  LIS + "system/person#User"),
    },
    # Canvas names a frame on its SSO origin that answers the postMessage storage calls.
    storage_target="post_message_forwarding",
    shape="canvas",
)

# The same Canvas on a college's own server: its issuer is its own URL.
CANVAS_HOSTED = dataclasses.replace(
    CANVAS, key="canvas-hosted", name="Sandbox Canvas, self-hosted (Riverbend CC's server)",
    fixed_issuer=None, client_id="10000000000077",
    deployment_id="77:0a1e2c3d4b5f60718293a4b5c6d7e8f901234567", preregistered=False)

MOODLE = SandboxPlatform(
    key="moodle",
    name="Sandbox Moodle (Lakeside Technical College)",
    client_id="x7Qp2LmN9aBcD3e",
    deployment_id="1",
    context_id="17",
    context_label="CPT4",
    context_title="CPT 4.0 Exam Preparation",
    auth_path="/mod/lti/auth.php",
    token_path="/mod/lti/token.php",
    jwks_path="/mod/lti/certs.php",
    people=(
        Person("5", "Maria", "Lopez", "maria@lakeside.example.edu", "learner"),
        Person("6", "Tom", "Becker", "tom@lakeside.example.edu", "learner"),
        Person("3", "Grace", "Kim", "grace@lakeside.example.edu", "instructor"),
        Person("2", "Admin", "User", "admin@lakeside.example.edu", "admin"),
    ),
    roles={
        "learner": (LIS + "membership#Learner",),
        "instructor": (LIS + "membership#Instructor",),
        "ta": (LIS + "membership#Instructor",),
        "admin": (LIS + "institution/person#Administrator", LIS + "membership#Instructor",
                  LIS + "system/person#Administrator"),
    },
)

PLATFORMS: dict[str, SandboxPlatform] = {p.key: p for p in (CANVAS, MOODLE, CANVAS_HOSTED)}
