"""Read the captions people already wrote next to their photos.

Two sidecar kinds: a plain `photo.jpg.txt` caption, and an XMP packet (`photo.xmp` or
`photo.jpg.xmp`) with `dc:description` (a language alternative) and `dc:subject` (a bag of
keywords). XMP is parsed with the standard library's ElementTree; any DOCTYPE or ENTITY
declaration is refused before parsing, so no entity expansion can happen (defusedxml's
protection without the dependency). No torch here: the engine's XMP code may reuse this.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_SIDECAR_BYTES = 4 << 20


@dataclass
class XmpInfo:
    description: str = ""
    subjects: list[str] = field(default_factory=list)

    def caption(self) -> str:
        """Description, then keywords: what CLIPPO sees as the photo's text."""
        parts = [self.description.strip()] if self.description.strip() else []
        if self.subjects:
            parts.append(", ".join(self.subjects))
        return ". ".join(parts)


class SidecarError(ValueError):
    """An XMP sidecar is unsafe or malformed; the photo's other captions may still be used."""


def parse_xmp(data: bytes) -> XmpInfo:
    """Parse an XMP packet's dc:description (x-default first) and dc:subject keywords."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError("XMP sidecar is larger than 4 MiB")
    if _FORBIDDEN.search(data):
        raise SidecarError("XMP sidecar declares a DOCTYPE or ENTITY; refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SidecarError(f"XMP sidecar is not well-formed XML ({exc})") from exc
    info = XmpInfo()
    lang_key = f"{{{NS['xml']}}}lang"
    for desc in root.iter(f"{{{NS['dc']}}}description"):
        items = desc.findall(".//rdf:li", NS)
        if not items and (desc.text or "").strip():
            info.description = desc.text.strip()
            break
        default = [li for li in items if li.get(lang_key, "x-default") == "x-default"]
        chosen = (default or items)[:1]
        if chosen and (chosen[0].text or "").strip():
            info.description = chosen[0].text.strip()
            break
    for subj in root.iter(f"{{{NS['dc']}}}subject"):
        for li in subj.findall(".//rdf:li", NS):
            if (li.text or "").strip() and li.text.strip() not in info.subjects:
                info.subjects.append(li.text.strip())
    return info


def xmp_paths(photo: Path) -> list[Path]:
    return [photo.with_suffix(".xmp"), photo.with_name(photo.name + ".xmp"),
            photo.with_suffix(".XMP"), photo.with_name(photo.name + ".XMP")]


def read_caption(photo: str | Path) -> str | None:
    """The caption for `photo` from its sidecars: `.txt` first, then XMP. None if it has none."""
    photo = Path(photo)
    txt = photo.with_name(photo.name + ".txt")
    if txt.is_file():
        text = txt.read_text("utf-8", errors="replace").strip()
        if text:
            return text
    for xmp in xmp_paths(photo):
        if xmp.is_file():
            try:
                caption = parse_xmp(xmp.read_bytes()).caption()
            except SidecarError:
                continue
            if caption:
                return caption
    return None
