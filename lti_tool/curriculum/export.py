"""Export the bank for colleges' own LMS quiz engines: Moodle GIFT and IMS QTI 2.1.

GIFT: one ``$CATEGORY:`` per module and per key activity (Moodle builds nested question
categories from the path); option feedback after ``#``; only ``=`` and ``~`` answers
(Moodle refuses weights outside its fixed list, so none are used). Text goes as ``[html]``
on one line, with every GIFT special character escaped.

QTI 2.1: a content package (zip) with ``imsmanifest.xml``, one ``assessmentItem`` per item
with a single-choice interaction, per-choice modal feedback, and SVG figures as files.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from html import escape
from xml.etree import ElementTree as ET

from markdown_it import MarkdownIt

from lti_tool.curriculum.checks import Bank
from lti_tool.curriculum.figures import sanitize_svg
from lti_tool.curriculum.render import markdown_to_html
from lti_tool.curriculum.schema import Item

GIFT_SPECIALS = "\\~=#{}:"
QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CATEGORY_ROOT = "$course$/top/CPT 4.0 Practice"
LETTERS = "ABCD"


def _ordered(bank: Bank) -> Iterable[tuple[str, str, list[Item]]]:
    """(module title, key activity title, items) in blueprint order."""
    assert bank.blueprint is not None
    items = [item for _, item in bank.items.values()]
    for module in bank.blueprint.modules:
        for ka in module.key_activities:
            mine = sorted((i for i in items if i.key_activity == ka.id), key=lambda i: i.id)
            if mine:
                yield module.title, ka.title, mine


def _figure_html(item: Item, *, inline_svg: bool) -> str:
    figure = item.figure
    if figure is None:
        return ""
    if figure.kind == "table":
        body = markdown_to_html(figure.content)
    elif figure.kind == "text":
        body = "<p>" + escape(figure.content).replace("\n", "<br>") + "</p>"
    else:
        body = (sanitize_svg(figure.content) if inline_svg else "") + \
            f"<p><em>Figure:</em> {escape(figure.alt)}</p>"
    return body


def _gift_escape(text: str) -> str:
    out = []
    for ch in text:
        out.append("\\" + ch if ch in GIFT_SPECIALS else ch)
    return " ".join("".join(out).split())  # one line: blank lines end a GIFT question


def _category(*parts: str) -> str:
    # '/' separates Moodle category levels; a literal slash in a name is written '//'.
    return "/".join([CATEGORY_ROOT, *(p.replace("/", "//") for p in parts)])


def to_gift(bank: Bank) -> str:
    lines = ["// CPT Practice item bank (original items), Moodle GIFT format.",
             "// Categories: module / key work activity. Feedback explains every option.", ""]
    current_module = None
    for module_title, ka_title, items in _ordered(bank):
        if module_title != current_module:
            lines += [f"$CATEGORY: {_category(module_title)}", ""]
            current_module = module_title
        lines += [f"$CATEGORY: {_category(module_title, ka_title)}", ""]
        for item in items:
            stem_html = markdown_to_html(item.stem) + _figure_html(item, inline_svg=True)
            lines.append(f"::{_gift_escape(item.id + ' ' + item.topic)}::"
                         f"[html]{_gift_escape(stem_html)} {{")
            for option in item.options:
                mark = "=" if option.correct else "~"
                lines.append(f"\t{mark}{_gift_escape(option.text)}"
                             f"#{_gift_escape(option.rationale)}")
            lines += ["}", ""]
    return "\n".join(lines)


_XHTML = MarkdownIt("commonmark", {"html": False, "xhtmlOut": True}).enable("table")
_XHTML.disable("image")


def _xhtml(markdown: str) -> str:
    # QTI 2.1 body elements take no style attribute (Markdown table alignment adds one).
    return re.sub(r' style="[^"]*"', "", _XHTML.render(markdown))


def _qti_item(item: Item, svg_href: str | None) -> str:
    figure = ""
    if item.figure is not None:
        if item.figure.kind == "table":
            figure = _xhtml(item.figure.content)
        elif item.figure.kind == "text":
            figure = "<p>" + escape(item.figure.content).replace("\n", "<br/>") + "</p>"
        else:
            figure = (f'<p><img src="{escape(svg_href or "")}" alt="{escape(item.figure.alt)}"'
                      f"/></p>")
    choices = "".join(
        f'<simpleChoice identifier="{LETTERS[i]}">{escape(o.text)}</simpleChoice>'
        for i, o in enumerate(item.options))
    feedback = "".join(
        f'<modalFeedback outcomeIdentifier="FEEDBACK" identifier="{LETTERS[i]}" '
        f'showHide="show"><p>{"Correct. " if o.correct else "Not quite. "}'
        f"{escape(o.rationale)}</p></modalFeedback>"
        for i, o in enumerate(item.options))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<assessmentItem xmlns="{QTI_NS}" xmlns:xsi="{XSI}" xsi:schemaLocation="{QTI_NS} '
        f'http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd" '
        f'identifier="{escape(item.id)}" title="{escape(item.id + " " + item.topic)}" '
        f'adaptive="false" timeDependent="false">'
        f'<responseDeclaration identifier="RESPONSE" cardinality="single" '
        f'baseType="identifier"><correctResponse><value>{LETTERS[item.answer_index]}</value>'
        f"</correctResponse></responseDeclaration>"
        f'<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">'
        f"<defaultValue><value>0</value></defaultValue></outcomeDeclaration>"
        f'<outcomeDeclaration identifier="FEEDBACK" cardinality="single" '
        f'baseType="identifier"/>'
        f"<itemBody><div>{_xhtml(item.stem)}{figure}</div>"
        f'<choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">'
        f"{choices}</choiceInteraction></itemBody>"
        f"<responseProcessing><responseCondition><responseIf><match>"
        f'<variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></match>'
        f'<setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue>'
        f"</setOutcomeValue></responseIf></responseCondition>"
        f'<setOutcomeValue identifier="FEEDBACK"><variable identifier="RESPONSE"/>'
        f"</setOutcomeValue></responseProcessing>{feedback}</assessmentItem>\n")


def to_qti_zip(bank: Bank) -> bytes:
    buffer = io.BytesIO()
    resources = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for _, _, items in _ordered(bank):
            for item in items:
                href = f"items/{item.id}.xml"
                files = [href]
                svg_href = None
                if item.figure is not None and item.figure.kind == "svg":
                    svg_path = f"figures/{item.id}.svg"
                    archive.writestr(svg_path, sanitize_svg(item.figure.content))
                    svg_href = f"../{svg_path}"
                    files.append(svg_path)
                xml = _qti_item(item, svg_href)
                ET.fromstring(xml.split("\n", 1)[1])  # well-formed, or fail the export
                archive.writestr(href, xml)
                resources.append((item.id, href, files))
        manifest = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<manifest xmlns="{CP_NS}" xmlns:xsi="{XSI}" identifier="cpt-practice-bank" '
            f'xsi:schemaLocation="{CP_NS} http://www.imsglobal.org/xsd/imscp_v1p1.xsd">',
            "<metadata><schema>QTIv2.1 Package</schema><schemaversion>1.0.0</schemaversion>"
            "</metadata>", "<organizations/>", "<resources>"]
        for item_id, href, files in resources:
            manifest.append(f'<resource identifier="RES-{escape(item_id)}" '
                            f'type="imsqti_item_xmlv2p1" href="{href}">'
                            + "".join(f'<file href="{f}"/>' for f in files) + "</resource>")
        manifest += ["</resources>", "</manifest>"]
        archive.writestr("imsmanifest.xml", "\n".join(manifest) + "\n")
    return buffer.getvalue()
