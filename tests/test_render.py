"""The Unifont renderer must match big_vision's render_unifont pixel for pixel (spec §4)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from clippo_desktop.engine import glyphs
from clippo_desktop.engine.render import (
    DEFAULT_SETTINGS, FONT_SHA256, RENDERER_VERSION, RendererSettings, render_text, render_texts,
    text_to_codepoints,
)


def ink(img: np.ndarray) -> np.ndarray:
    """(S, S, 3) rendering -> (S, S) bool ink mask, checking it is a clean two-level image."""
    assert img.dtype == np.uint8 and img.shape == (224, 224, 3)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert set(np.unique(img)) <= {0, 127}
    return img[..., 0] == 0


def test_golden_texts_render_bit_exactly(golden):
    ours = render_texts([str(t) for t in golden["texts"]])
    for i in range(len(golden["texts"])):
        assert np.array_equal(ours[i], golden["text_render_uint8"][i]), f"text {i} differs"


def test_all_27_golden_edge_case_masks_match(golden):
    masks = np.unpackbits(golden["render_extra_inkmask_packed"], axis=-1).astype(bool)  # (27, 224, 224)
    assert masks.shape == (27, 224, 224)
    for i, text in enumerate(golden["render_extra_texts"]):
        got = ink(render_text(str(text)))
        assert np.array_equal(got, masks[i]), f"extra text {i} ({str(text)[:30]!r}) differs"


def test_empty_string_is_uniform_background():
    img = render_text("")
    assert img.shape == (224, 224, 3) and (img == 127).all()
    assert (render_text(b"") == 127).all()


def _spec_glyph(hex_digits: str) -> np.ndarray:
    """The spec's 32-digit hex glyph -> (16, 16) bool bitmap (8-wide: right half blank)."""
    rows = np.frombuffer(bytes.fromhex(hex_digits), np.uint8)  # (16,)
    bits = np.unpackbits(rows[:, None], axis=1).astype(bool)  # (16, 8)
    return np.concatenate([bits, np.zeros((16, 8), bool)], axis=1)


def test_worked_example_hi_matches_spec_section_4_8():
    # Glyphs, kept column ranges and x offsets exactly as spelled out in spec §4.8.
    parts = [("0000004040405C624242424242420000", 0, 7, 0),   # 'h'
             ("000000080800180808080808083E0000", 1, 7, 7),   # 'i'
             ("00000000000000000000000000000000", 0, 4, 13),  # ' '
             ("00000000080808080808080008080000", 3, 7, 17)]  # '!'
    expected = np.zeros((224, 224), bool)
    for digits, start, end, x in parts:
        expected[0:16, x:x + end - start] = _spec_glyph(digits)[:, start:end]
    got = ink(render_text("Hi !"))
    assert np.array_equal(got, expected)
    assert got[:, 10].any() and got[:, 18].any()  # the dot of 'i' at x 10, the '!' stroke at x 18
    assert not got[0:3].any() and not got[14:].any()


def test_only_ascii_capitals_are_lowercased():
    assert np.array_equal(render_text("HELLO World"), render_text("hello world"))
    assert not np.array_equal(render_text("Ä"), render_text("ä"))
    assert list(text_to_codepoints("AZaz@[ÄΩ")) == [0x61, 0x7A, 0x61, 0x7A, 0x40, 0x5B, 0xC4, 0x3A9]


def test_lower_false_keeps_capitals():
    upper = RendererSettings(lower=False)
    assert not np.array_equal(render_text("A", upper), render_text("a", upper))


def test_bytes_are_utf8_and_invalid_bytes_become_replacement_characters():
    assert np.array_equal(render_text("Zürich".encode()), render_text("zürich"))
    assert list(text_to_codepoints(b"\xff\xfeab\xc3")) == [0xFFFD, 0xFFFD, 0x61, 0x62, 0xFFFD]
    assert np.array_equal(render_text(b"\xff\xfeab"), render_text("\ufffd\ufffdab"))
    long = b"x\xc3\xa9\xf0\x9f\x98\x80\xff\xe6\x97" * 5000  # 50 kB: 1-4 byte and broken sequences
    assert np.array_equal(text_to_codepoints(long), text_to_codepoints(long.decode("utf-8", "replace")))


def test_lone_surrogates_render_as_replacement_characters():
    assert list(text_to_codepoints("a\ud800b\udfff")) == [0x61, 0xFFFD, 0x62, 0xFFFD]
    assert np.array_equal(render_text("x\ud83dy"), render_text("x\ufffdy"))


def test_nul_and_controls_are_visible_boxes_not_crashes():
    assert ink(render_text("\x00")).any()
    assert ink(render_text("\n")).any()
    assert not np.array_equal(render_text("a\nb"), render_text("ab"))


def test_a_100k_character_text_renders_like_its_first_768_code_points():
    text = ("lorem ipsum 日本 " * 8000)[:100_000]
    img = render_text(text)
    assert np.array_equal(img, render_text(text[:768]))
    assert ink(img)[-16:].any()  # the 14th line is filled


def test_code_points_without_a_glyph_are_four_pixel_blanks():
    # U+20000 (plane 2) has no Unifont 9 glyph: it must take exactly 4 blank columns.
    with_missing = ink(render_text("a\U00020000b"))
    assert np.array_equal(with_missing, ink(render_text("a b")))


def test_monospace_gives_every_glyph_16_columns():
    mono = ink(render_text("ab", RendererSettings(monospace=True)))
    assert mono[:, :16].any() and mono[:, 16:32].any() and not mono[:, 32:].any()


def test_render_texts_stacks_individual_renderings():
    texts = ["a photo of a cat", b"bytes", "", "日本語"]
    batch = render_texts(texts)
    assert batch.shape == (4, 224, 224, 3) and batch.dtype == np.uint8
    for i, t in enumerate(texts):
        assert np.array_equal(batch[i], render_text(t))
    assert render_texts([]).shape == (0, 224, 224, 3)


def test_settings_round_trip_and_reject_unknown_or_unsupported_values():
    s = RendererSettings(max_chars=100, background_brightness=200)
    assert RendererSettings.from_dict(s.to_dict()) == s
    assert RendererSettings.from_dict({}) == DEFAULT_SETTINGS
    assert DEFAULT_SETTINGS.to_dict() == {
        "image_size": 224, "font_size": 16, "max_chars": 768, "lower": True, "text_brightness": 0,
        "background_brightness": 127, "spacing": 1, "min_width": 4, "monospace": False}
    with pytest.raises(ValueError, match="colour"):
        RendererSettings.from_dict({"colour": 3})
    with pytest.raises(ValueError, match="font_size"):
        RendererSettings(font_size=32)
    with pytest.raises(ValueError, match="spacing"):
        RendererSettings(spacing=2)
    with pytest.raises(ValueError, match="image_size"):
        RendererSettings(image_size=16)
    with pytest.raises(TypeError):
        render_text(123)  # type: ignore[arg-type]


def test_smaller_canvases_keep_the_same_rules():
    small = render_text("hello world " * 50, RendererSettings(image_size=64))
    assert small.shape == (64, 64, 3)
    # The first line uses the same glyphs; it just wraps at 64 - widest instead of 224 - widest.
    big = render_text("hello world " * 50)
    cols = 64 - 8  # "hello world" glyphs are at most 8 wide, so line 0 ends before x = 56
    assert np.array_equal(ink(big)[:16, :cols - 8], (small[:16, :cols - 8, 0] == 0))


def test_brightness_settings_are_used():
    img = render_text("hi", RendererSettings(text_brightness=255, background_brightness=0))
    assert set(np.unique(img)) == {0, 255}
    assert np.array_equal(img[..., 0] == 255, ink(render_text("hi")))


def test_font_hashes_and_version_are_exposed():
    assert RENDERER_VERSION == 1
    assert FONT_SHA256 == {
        "unifont-9.0.06.hex": "099d8f0c6027ed1effa4a452a5c0874a012a6ee3ab5b1cd346aa3fbeb3368fda",
        "unifont_upper-9.0.06.hex": "d78af92c44332a8e32bbc1325fa920c06acfc28515034b2bba31c055a962b78c"}
    assert glyphs.glyph_table().sha256 == FONT_SHA256


def test_shipped_glyph_table_equals_a_fresh_build_from_the_hex_files(shared_dir):
    fonts = shared_dir / "fonts"
    if not (fonts / glyphs.BMP_FILE).is_file():
        pytest.skip("Unifont .hex files not in ../shared/fonts")
    built = glyphs.build_table(fonts)
    with np.load(glyphs.shipped_table_path(), allow_pickle=False) as shipped:
        assert sorted(shipped.files) == sorted(built)
        for key, value in built.items():
            assert np.array_equal(shipped[key], value), key
    assert len(built["codepoints"]) == 57_086 + 8_605


def test_glyph_table_rebuild_cli_writes_a_loadable_table(shared_dir, tmp_path):
    fonts = shared_dir / "fonts"
    if not (fonts / glyphs.BMP_FILE).is_file():
        pytest.skip("Unifont .hex files not in ../shared/fonts")
    out = tmp_path / "table.npz"
    assert glyphs.main(["--build", "--fonts", str(fonts), "--out", str(out)]) == 0
    table = glyphs.read_table(out)
    assert table.nbytes < 4_000_000  # packed, not a dense 2M-code-point table
    cps = np.array([0x68, 0x20, 0x20000])
    assert list(table.trim_width[table.lookup(cps)]) == [7, 4, 4]


def test_builder_refuses_other_font_files(tmp_path):
    (tmp_path / glyphs.BMP_FILE).write_text("0041:0000000018242442427E424242420000\n")
    (tmp_path / glyphs.UPPER_FILE).write_text("")
    with pytest.raises(ValueError, match="sha256"):
        glyphs.build_table(tmp_path)
    table = glyphs.build_table(tmp_path, check_sha256=False)
    assert list(table["codepoints"]) == [0x41]


def test_trimming_follows_spec_section_4_4():
    cols = np.zeros((4, 16), np.uint16)
    cols[1, 1:7] = 1      # ink 1..6 -> keep [0, 7)
    cols[2, 4] = 1        # ink 4..4 -> start 3, end max(5, 7) = 7
    cols[3, 14:16] = 1    # ink 14..15 -> start 13, end max(16, 17) clipped to 16
    start, width = glyphs.trim_columns(cols)
    assert list(start) == [0, 0, 3, 13] and list(width) == [4, 7, 4, 3]


def test_glyph_table_loads_once_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(glyphs.glyph_table())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(t is seen[0] for t in seen)
