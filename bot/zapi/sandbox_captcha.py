"""The sandbox's captcha: a few digits drawn into a PNG, so Telegram shows it as a photo and a
member reads and types it as they would WhatsApp's."""

from __future__ import annotations

import struct
import zlib

__all__ = ["captcha_png"]

# 5×7 glyphs, one string per row, "#" inked.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": (".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."),
}
_SCALE = 8
_MARGIN = 2  # glyph cells around the text
_INK, _PAPER = 40, 235


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def captcha_png(text: str) -> bytes:
    """`text` (digits) as an 8-bit greyscale PNG, a faint stripe pattern behind it."""
    cells = [_GLYPHS[digit] for digit in text]
    columns = len(cells) * 6 - 1 + 2 * _MARGIN
    rows = 7 + 2 * _MARGIN
    width, height = columns * _SCALE, rows * _SCALE
    raw = bytearray()
    for y in range(height):
        row, inside = y // _SCALE - _MARGIN, bytearray()
        for x in range(width):
            column = x // _SCALE - _MARGIN
            glyph, offset = divmod(column, 6)
            inked = (
                0 <= row < 7
                and column >= 0
                and glyph < len(cells)
                and offset < 5
                and cells[glyph][row][offset] == "#"
            )
            inside.append(_INK if inked else _PAPER - 25 * ((x + y) // 6 % 2))
        raw += b"\x00" + inside  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )
