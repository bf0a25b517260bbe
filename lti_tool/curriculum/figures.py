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


# --- contrast (WCAG 2.1: text 4.5:1, lines and shapes that carry meaning 3:1) --------------
# Lesson pages show figures on white, so colours are judged against white. White text is
# allowed: it is only ever drawn on a dark shape (reviewers check that it is).
MIN_TEXT_CONTRAST = 4.5
MIN_LINE_CONTRAST = 3.0
_NAMED = {"black": "#000000", "white": "#ffffff"}
_WHITE = {"#fff", "#ffffff", "white"}


def _luminance(colour: str) -> float:
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    channels = [int(hex_digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_on_white(colour: str) -> float | None:
    """The WCAG contrast ratio of a colour against white; None if it is not #rgb, #rrggbb,
    black or white (other forms cannot be checked)."""
    value = _NAMED.get(colour.strip().lower(), colour.strip().lower())
    if not re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", value):
        return None
    return 1.05 / (_luminance(value) + 0.05)


def contrast_problems(markup: str) -> list[str]:
    """Text and lines too pale to read on the white page (fill and stroke inherit, as in SVG)."""
    problems: list[str] = []

    def walk(element: ET.Element, fill: str, stroke: str) -> None:
        fill, stroke = element.get("fill", fill), element.get("stroke", stroke)
        name = _local(element.tag)
        if name in ("text", "tspan") and fill.lower() not in _WHITE | {"none"}:
            ratio = contrast_on_white(fill)
            if ratio is None:
                problems.append(f"text colour {fill!r}: use #rrggbb so contrast can be checked")
            elif ratio < MIN_TEXT_CONTRAST:
                problems.append(f"text colour {fill} has contrast {ratio:.1f}:1 on white; "
                                f"needs {MIN_TEXT_CONTRAST}:1")
        if name not in ("svg", "g", "text", "tspan", "title") and stroke.lower() != "none":
            ratio = contrast_on_white(stroke)
            if ratio is None:
                problems.append(f"line colour {stroke!r}: use #rrggbb so contrast can be "
                                f"checked")
            elif ratio < MIN_LINE_CONTRAST:
                problems.append(f"line colour {stroke} on <{name}> has contrast "
                                f"{ratio:.1f}:1 on white; needs {MIN_LINE_CONTRAST:.0f}:1")
        for child in element:
            walk(child, fill, stroke)

    walk(_clean(markup), "#000000", "none")
    return sorted(set(problems))
