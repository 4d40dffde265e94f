"""XMP sidecars: keywords other photo tools can read, without ever touching the photo file.

We write `photo.jpg.xmp` next to the photo (the naming digiKam and darktable use) with:
  dc:subject             rdf:Bag of plain labels (what every XMP reader shows as keywords)
  lr:hierarchicalSubject rdf:Bag of `clippo|<label>` (Lightroom's hierarchy separator)
  digiKam:TagsList       rdf:Seq of `clippo/<label>` (digiKam's tag paths)

An existing sidecar is merged, not replaced: it is parsed with ElementTree keeping comments,
processing instructions, every element and attribute and the original namespace prefixes;
only entries under `clippo` (and the dc:subject labels that came from them) are ours to
replace. Re-tagging with the same labels leaves the file byte-identical.

Safety: DOCTYPE/ENTITY declarations are refused (entity-expansion bombs), sidecars over 16 MiB
are refused, a sidecar that is a symlink is never followed or replaced, a photo that resolves
outside the library root is refused, a read-only folder or file raises ReadOnlyError naming it,
and the write is atomic (engine.atomic), keeping the old file's permissions.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Sequence

from .atomic import atomic_write
from .errors import ClippoError, ReadOnlyError

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
PARENT = "clippo"
MAX_BYTES = 16 << 20
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_ns_lock = threading.Lock()


class XmpError(ClippoError):
    """A sidecar cannot be read or written safely (malformed, hostile, or a symlink)."""


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


@dataclass(frozen=True)
class SidecarInfo:
    keywords: list[str]
    hierarchical: list[str]
    tags_list: list[str]
    description: str | None


def sidecar_path(photo: str | os.PathLike) -> Path:
    """`photo.jpg` -> `photo.jpg.xmp` (an .xmp path is returned as it is)."""
    p = Path(photo)
    return p if p.suffix.lower() == ".xmp" else p.with_name(p.name + ".xmp")


# ---- reading -----------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes | None:
    """The sidecar's bytes, None when absent; never follows a symlink."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise XmpError(f"The sidecar {path} is a symbolic link; it was not followed.",
                       "Replace the link with a regular file if you want it updated.")
    if not stat.S_ISREG(st.st_mode):
        raise XmpError(f"The sidecar {path} is not a regular file.", "Move it away.")
    if st.st_size > MAX_BYTES:
        raise XmpError(f"The sidecar {path} is larger than {MAX_BYTES >> 20} MiB.",
                       "It is probably not an XMP sidecar; move it away.")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError as exc:
        raise ReadOnlyError(f"The sidecar {path} cannot be read.", "Check its permissions.") from exc
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_BYTES + 1)


def _parse(data: bytes, path: Path) -> tuple[ET.Element, list[tuple[str, str]]]:
    """Root element and the (prefix, uri) declarations it uses."""
    if _FORBIDDEN.search(data):
        raise XmpError(f"The sidecar {path} contains a DOCTYPE or ENTITY declaration; "
                       "it was not read (such files can expand without limit).",
                       "Remove the declaration, or move the sidecar away.")
    try:
        namespaces = [item for _, item in ET.iterparse(BytesIO(data), events=("start-ns",))]
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise XmpError(f"The sidecar {path} is not well-formed XML ({exc}).",
                       "Fix or move it away; it was left unchanged.") from exc
    return root, namespaces


def _rdf(root: ET.Element) -> ET.Element:
    if root.tag == _q("rdf", "RDF"):
        return root
    found = root.find(f".//{_q('rdf', 'RDF')}")
    if found is None:
        found = ET.SubElement(root, _q("rdf", "RDF"))
    return found


def _items(prop: ET.Element | None) -> list[str]:
    if prop is None:
        return []
    return [(li.text or "").strip() for li in prop.iter(_q("rdf", "li")) if (li.text or "").strip()]


def _find_prop(rdf: ET.Element, prefix: str, name: str) -> ET.Element | None:
    for desc in rdf.findall(_q("rdf", "Description")):
        prop = desc.find(_q(prefix, name))
        if prop is not None:
            return prop
    return None


def read_sidecar(path: str | os.PathLike) -> SidecarInfo:
    """Keywords, hierarchical tags and description of a photo's sidecar (empty if none)."""
    side = sidecar_path(path)
    data = _read_bytes(side)
    if data is None:
        return SidecarInfo([], [], [], None)
    rdf = _rdf(_parse(data, side)[0])
    desc_prop = _find_prop(rdf, "dc", "description")
    description = None
    if desc_prop is not None:
        lis = list(desc_prop.iter(_q("rdf", "li")))
        default = [li for li in lis if li.get(_XML_LANG) == "x-default"] or lis
        description = (default[0].text or "") if default else (desc_prop.text or "").strip() or None
    for d in rdf.findall(_q("rdf", "Description")):
        if description is None and d.get(_q("dc", "description")):
            description = d.get(_q("dc", "description"))
    return SidecarInfo(_items(_find_prop(rdf, "dc", "subject")),
                       _items(_find_prop(rdf, "lr", "hierarchicalSubject")),
                       _items(_find_prop(rdf, "digiKam", "TagsList")), description)


def read_keywords(path: str | os.PathLike) -> list[str]:
    return read_sidecar(path).keywords


# ---- writing -----------------------------------------------------------------------------

def _leaf(label: str) -> str:
    """A label as one hierarchy level: separators would otherwise create sub-levels."""
    return " ".join(label.replace("|", " ").replace("/", " ").split())


def _container(rdf: ET.Element, prefix: str, name: str, kind: str) -> ET.Element:
    """The rdf:Bag/Seq of a property, creating the property on the first Description."""
    prop = _find_prop(rdf, prefix, name)
    if prop is None:
        descs = rdf.findall(_q("rdf", "Description"))
        desc = descs[0] if descs else ET.SubElement(rdf, _q("rdf", "Description"),
                                                    {_q("rdf", "about"): ""})
        prop = ET.SubElement(desc, _q(prefix, name))
    box = prop.find(_q("rdf", kind))
    if box is None:
        box = prop.find(_q("rdf", "Bag" if kind == "Seq" else "Seq"))
    if box is None:
        box = ET.SubElement(prop, _q("rdf", kind))
    return box


def _update(box: ET.Element, wanted: list[str], owned) -> None:
    """Drop our stale entries (owned(text) true, not wanted) and append missing wanted ones."""
    present = []
    for li in list(box.findall(_q("rdf", "li"))):
        text = (li.text or "").strip()
        if owned(text) and text not in wanted:
            box.remove(li)
        else:
            present.append(text)
    for text in wanted:
        if text not in present:
            ET.SubElement(box, _q("rdf", "li")).text = text
            present.append(text)


def _merge(root: ET.Element, labels: Sequence[str]) -> None:
    rdf = _rdf(root)
    hier = _container(rdf, "lr", "hierarchicalSubject", "Bag")
    old_ours = {t[len(PARENT) + 1:] for t in _items(hier) if t.startswith(PARENT + "|")}
    wanted = list(dict.fromkeys(labels))
    _update(_container(rdf, "dc", "subject", "Bag"), wanted,
            lambda t: t in {_leaf(o) for o in old_ours} | old_ours)
    _update(hier, [f"{PARENT}|{_leaf(x)}" for x in wanted], lambda t: t.startswith(PARENT + "|"))
    _update(_container(rdf, "digiKam", "TagsList", "Seq"), [f"{PARENT}/{_leaf(x)}" for x in wanted],
            lambda t: t.startswith(PARENT + "/"))


def _new_document() -> ET.Element:
    root = ET.Element(_q("x", "xmpmeta"), {_q("x", "xmptk"): "clippo-desktop"})
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    return root


def _serialise(root: ET.Element, namespaces: list[tuple[str, str]], original: bytes | None) -> bytes:
    ET.indent(root, space=" ")
    with _ns_lock:
        for prefix, uri in [*NS.items(), *namespaces]:
            try:
                if prefix:
                    ET.register_namespace(prefix, uri)
            except ValueError:          # 'ns0'-style prefixes are reserved by ElementTree
                pass
        body = ET.tostring(root, encoding="unicode")
    head, tail = '<?xml version="1.0" encoding="UTF-8"?>\n', "\n"
    if original is not None:
        text = original.decode("utf-8", "replace")
        start = re.search(r"<(?![?!])", text)
        if start and "encoding" not in text[: start.start()].lower().replace("utf-8", ""):
            head = text[: start.start()]
        end = text.rfind("<?xpacket end")
        if end != -1:
            tail = "\n" + text[end:]
    return (head + body + tail).encode("utf-8")


def _check_location(photo: Path, side: Path, root: str | os.PathLike | None) -> None:
    if root is not None:
        real_root = os.path.realpath(root)
        real_photo = os.path.realpath(photo)
        if os.path.commonpath([real_root, real_photo]) != real_root:
            raise XmpError(f"{photo} resolves to {real_photo}, outside the library folder "
                           f"{root}; no sidecar was written.",
                           "Symbolic links out of the library are not followed.")
    folder = side.parent
    if os.path.realpath(side) != os.path.join(os.path.realpath(folder), side.name):
        raise XmpError(f"The sidecar {side} resolves outside {folder}; it was not written.")
    if not os.access(folder, os.W_OK):
        raise ReadOnlyError(f"Cannot write the sidecar in {folder}: the folder is read-only.",
                            "Make the folder writable, or tag without --write-xmp.")
    if side.exists() and not os.access(side, os.W_OK):
        raise ReadOnlyError(f"The sidecar {side} is read-only.", "Make it writable to update it.")


def write_keywords(photo: str | os.PathLike, labels: Sequence[str], *,
                   root: str | os.PathLike | None = None) -> Path:
    """Merge our labels into `photo`'s sidecar (creating it); returns the sidecar path."""
    photo = Path(os.path.abspath(photo))
    side = sidecar_path(photo)
    if side == photo:
        raise XmpError(f"{photo} is itself an .xmp file.", "Give the photo's path.")
    original = _read_bytes(side)
    _check_location(photo, side, root)
    if original is None:
        root_el, namespaces = _new_document(), []
    else:
        root_el, namespaces = _parse(original, side)
    _merge(root_el, [str(x) for x in labels])
    data = _serialise(root_el, namespaces, original)
    if data == original:
        return side
    mode = stat.S_IMODE(os.lstat(side).st_mode) if original is not None else 0o644
    with atomic_write(side) as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), mode)
        f.write(data)
    return side

