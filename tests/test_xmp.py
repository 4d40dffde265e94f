"""XMP sidecars: merging into digiKam-style files, idempotence, and refusing unsafe targets."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from clippo_desktop.engine.errors import ReadOnlyError
from clippo_desktop.engine.xmp import (XmpError, read_keywords, read_sidecar, sidecar_path,
                                       write_keywords)

DIGIKAM = """<?xml version="1.0" encoding="UTF-8"?>
<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:acme="http://example.com/acme/1.0/"
    xmp:Rating="4" xmp:CreateDate="2019-06-01T10:00:00" exif:FNumber="28/10"
    tiff:Make="Canon" acme:secret="42">
   <!-- written by hand for the test -->
   <digiKam:TagsList><rdf:Seq><rdf:li>People/Anna</rdf:li></rdf:Seq></digiKam:TagsList>
   <dc:subject><rdf:Bag><rdf:li>Anna</rdf:li><rdf:li>Holiday</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Anna</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Lake at dawn</rdf:li></rdf:Alt></dc:description>
   <exif:Flash rdf:parseType="Resource"><exif:Fired>False</exif:Fired></exif:Flash>
   <acme:Rolls><rdf:Seq><rdf:li acme:kind="film">Portra 400</rdf:li></rdf:Seq></acme:Rolls>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def _flatten(root: ET.Element) -> set[tuple]:
    """Every element (path of tags, text) and attribute, for a "nothing lost" comparison."""
    out = set()

    def walk(el, path):
        if not isinstance(el.tag, str):
            out.add((path, "#comment", (el.text or "").strip()))
            return
        p = path + (el.tag,)
        out.add((p, "#text", (el.text or "").strip()))
        for k, v in el.attrib.items():
            out.add((p, k, v))
        for child in el:
            walk(child, p)

    walk(root, ())
    return out


def _parse(path) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    parser.feed(path.read_bytes())
    return parser.close()


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.jpg"
    p.write_bytes(b"\xff\xd8 pretend jpeg \xff\xd9")
    return p


def test_sidecar_is_named_after_the_whole_photo_name(photo):
    assert sidecar_path(photo).name == "photo.jpg.xmp"


def test_new_sidecar_has_subject_hierarchy_and_digikam_tags(photo):
    side = write_keywords(photo, ["dog", "beach"])
    info = read_sidecar(photo)
    assert info.keywords == ["dog", "beach"]
    assert info.hierarchical == ["clippo|dog", "clippo|beach"]
    assert info.tags_list == ["clippo/dog", "clippo/beach"]
    text = side.read_text("utf-8")
    assert "<rdf:Bag>" in text and "<rdf:Seq>" in text and "lr:hierarchicalSubject" in text
    assert photo.read_bytes() == b"\xff\xd8 pretend jpeg \xff\xd9"


def test_merge_into_digikam_sidecar_keeps_every_field_and_adds_ours(photo):
    side = sidecar_path(photo)
    side.write_text(DIGIKAM, "utf-8")
    before = _flatten(_parse(side))
    write_keywords(photo, ["dog", "Anna"])
    after = _flatten(_parse(side))
    assert before - after == set()                 # nothing we did not own was lost
    text = side.read_text("utf-8")
    for prefix in ("xmp:Rating", "digiKam:TagsList", "acme:secret", "acme:Rolls", "exif:Flash",
                   "<?xpacket end", "xmpmeta"):
        assert prefix in text                      # original prefixes are kept
    info = read_sidecar(photo)
    assert info.keywords == ["Anna", "Holiday", "dog"]
    assert info.hierarchical == ["People|Anna", "clippo|dog", "clippo|Anna"]
    assert info.tags_list == ["People/Anna", "clippo/dog", "clippo/Anna"]
    assert info.description == "Lake at dawn"
    assert read_keywords(side) == info.keywords


def test_writing_the_same_tags_twice_changes_nothing(photo):
    side = sidecar_path(photo)
    side.write_text(DIGIKAM, "utf-8")
    write_keywords(photo, ["dog", "beach"])
    first = side.read_bytes()
    write_keywords(photo, ["dog", "beach"])
    assert side.read_bytes() == first
    assert read_keywords(photo).count("dog") == 1


def test_retagging_replaces_our_old_labels_but_not_the_users(photo):
    side = sidecar_path(photo)
    side.write_text(DIGIKAM, "utf-8")
    write_keywords(photo, ["dog", "beach"])
    write_keywords(photo, ["snow"])
    info = read_sidecar(photo)
    assert info.keywords == ["Anna", "Holiday", "snow"]
    assert info.hierarchical == ["People|Anna", "clippo|snow"]


def test_sidecar_permissions_are_kept(photo):
    side = sidecar_path(photo)
    side.write_text(DIGIKAM, "utf-8")
    os.chmod(side, 0o640)
    write_keywords(photo, ["dog"])
    assert (side.stat().st_mode & 0o777) == 0o640


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="needs POSIX permissions, non-root")
def test_read_only_folder_is_reported_by_name(photo):
    os.chmod(photo.parent, 0o555)
    try:
        with pytest.raises(ReadOnlyError, match=str(photo.parent)):
            write_keywords(photo, ["dog"])
    finally:
        os.chmod(photo.parent, 0o755)


def test_read_only_folder_is_reported_even_when_running_as_root(photo, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **kw: False if os.fspath(p) == str(photo.parent)
                        and m == os.W_OK else real(p, m, **kw))
    with pytest.raises(ReadOnlyError, match="read-only"):
        write_keywords(photo, ["dog"])
    assert not sidecar_path(photo).exists()


def test_symlinked_sidecar_is_never_followed(photo, tmp_path):
    target = tmp_path / "elsewhere.xmp"
    target.write_text(DIGIKAM, "utf-8")
    os.symlink(target, sidecar_path(photo))
    with pytest.raises(XmpError, match="symbolic link"):
        write_keywords(photo, ["dog"])
    assert target.read_text("utf-8") == DIGIKAM


def test_photo_symlink_pointing_outside_the_library_is_refused(tmp_path):
    library, outside = tmp_path / "lib", tmp_path / "outside"
    library.mkdir()
    outside.mkdir()
    (outside / "real.jpg").write_bytes(b"x")
    os.symlink(outside / "real.jpg", library / "link.jpg")
    with pytest.raises(XmpError, match="outside the library"):
        write_keywords(library / "link.jpg", ["dog"], root=library)
    assert not (library / "link.jpg.xmp").exists() and not (outside / "real.jpg.xmp").exists()
    (library / "inside.jpg").write_bytes(b"x")
    assert write_keywords(library / "inside.jpg", ["dog"], root=library).is_file()


@pytest.mark.parametrize("decl", [
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>',
    '<!ENTITY x SYSTEM "file:///etc/passwd">',
])
def test_doctype_and_entity_declarations_are_refused(photo, decl):
    side = sidecar_path(photo)
    side.write_text(DIGIKAM.replace("<x:xmpmeta", decl + "\n<x:xmpmeta", 1), "utf-8")
    original = side.read_bytes()
    with pytest.raises(XmpError, match="DOCTYPE or ENTITY"):
        write_keywords(photo, ["dog"])
    with pytest.raises(XmpError):
        read_keywords(photo)
    assert side.read_bytes() == original


def test_malformed_sidecar_is_left_alone_with_a_clear_error(photo):
    side = sidecar_path(photo)
    side.write_text("<x:xmpmeta><unclosed>", "utf-8")
    with pytest.raises(XmpError, match="not well-formed"):
        write_keywords(photo, ["dog"])
    assert side.read_text("utf-8") == "<x:xmpmeta><unclosed>"


def test_labels_with_hierarchy_separators_stay_one_level(photo):
    write_keywords(photo, ["AC/DC", "a|b"])
    info = read_sidecar(photo)
    assert info.keywords == ["AC/DC", "a|b"]
    assert info.hierarchical == ["clippo|AC DC", "clippo|a b"]
    assert info.tags_list == ["clippo/AC DC", "clippo/a b"]
