"""The five CPT 4.0 modules as the landing pages list them.

Source: MSSC's public CPT 4.0 profile (Workcred/GWIPP credential profile): four required
modules plus an optional Green Production module, each its own multiple-choice exam.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    key: str
    title: str
    required: bool
    summary: str


MODULES: tuple[Module, ...] = (
    Module("safety", "Safety", True,
           "Spot hazards, use lockout/tagout and protective gear, and keep a work area safe."),
    Module("quality", "Quality Practices & Measurement", True,
           "Measure parts, read drawings and charts, and help find and fix quality problems."),
    Module("processes", "Manufacturing Processes & Production", True,
           "Follow how products are made, planned and shipped, and help the line run well."),
    Module("maintenance", "Maintenance Awareness", True,
           "Know how machines work, spot wear early, and support preventive maintenance."),
    Module("green", "Green Production", False,
           "Cut waste, save energy and handle materials in ways that protect the environment."),
)

INDUSTRY_40_TECHNOLOGIES: tuple[str, ...] = (
    "Artificial intelligence", "5G", "Additive manufacturing (3D printing)",
    "Industrial Internet of Things", "Autonomous robots", "Data analytics",
    "Augmented reality", "Advanced materials", "Nano-manufacturing",
)
