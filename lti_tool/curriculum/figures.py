"""SVG figures from content, reduced to a small drawing vocabulary before they reach a page.

Content is ours, but a figure is still markup: anything outside the allow-list (scripts,
styles, links, event handlers, external references, DOCTYPEs) is refused, not rendered.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
ALLOWED_ELEMENTS = {"svg", "g", "line", "rect", "circle", "ellipse", "polyline", "polygon",
                    "path", "text", "title", "tspan"}
ALLOWED_ATTRIBUTES = {
    "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx",
    "ry", "points", "d", "fill", "stroke", "stroke-width", "stroke-dasharray",
    "stroke-linecap", "stroke-linejoin", "font-size", "font-family", "font-weight",
    "text-anchor", "dominant-baseline", "transform", "opacity", "fill-opacity", "role",
    "aria-label", "xmlns", "dx", "dy", "marker-end",
}
_SAFE_VALUE = re.compile(r"^[^<>\"'`]*$")


class FigureError(ValueError):
    """An SVG figure uses something outside the allowed drawing vocabulary."""


def _local(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def _clean(markup: str) -> ET.Element:
    """The parsed SVG, after every element and attribute passed the allow-list."""
    if re.search(r"<!(DOCTYPE|ENTITY)", markup, re.I):
        raise FigureError("DOCTYPE and entities are not allowed in figures")
    try:
        root = ET.fromstring(markup)
    except ET.ParseError as exc:
        raise FigureError(f"not well-formed SVG: {exc}") from exc
    if _local(root.tag) != "svg":
        raise FigureError("a figure must be a single <svg> element")
    for element in root.iter():
        name = _local(element.tag)
        if name not in ALLOWED_ELEMENTS:
            raise FigureError(f"element <{name}> is not allowed")
        for attribute, value in element.attrib.items():
            attr = _local(attribute)
            if attr not in ALLOWED_ATTRIBUTES:
                raise FigureError(f"attribute {attr!r} on <{name}> is not allowed")
            if not _SAFE_VALUE.match(value) or "url(" in value.lower():
                raise FigureError(f"attribute {attr!r} on <{name}> has an unsafe value")
    return root


def _serialise(root: ET.Element) -> str:
    ET.register_namespace("", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def sanitize_svg(markup: str) -> str:
    """Return the SVG re-serialised from allowed parts only, or raise FigureError."""
    return _serialise(_clean(markup))


def labelled_svg(markup: str, label: str) -> str:
    """The sanitised SVG as one image for assistive technology: ``role="img"`` with the
    figure's text alternative as its name (ElementTree escapes the label)."""
    root = _clean(markup)
    root.set("role", "img")
    root.set("aria-label", label)
    return _serialise(root)


MAX_PHONE_WIDTH = 360  # CSS px: wider fixed widths cannot shrink into a 390 px phone column


def scaling_problems(markup: str) -> list[str]:
    """Why an (allowed) SVG would not scale down on a phone: no viewBox to scale by, or a
    fixed pixel width wider than a phone's content column."""
    root = _clean(markup)
    problems = []
    if not root.get("viewBox"):
        problems.append("the <svg> needs a viewBox so it can scale")
    width = root.get("width")
    if width is not None:
        number = re.fullmatch(r"\s*([0-9.]+)\s*(px)?\s*", width)
        if number is None:
            problems.append(f"width {width!r} must be a number of pixels (or left out)")
        elif float(number.group(1)) > MAX_PHONE_WIDTH:
            problems.append(f"width {width} is wider than {MAX_PHONE_WIDTH} px; phones "
                            f"cannot show it whole")
    return problems
