"""Audio containers read from their bytes, where libsndfile's own reading falls short: the frames of an MPEG Layer
III file (MP3) counted from their headers, the pages of an Ogg file with their checksums, the chunks of a CAF.
speechseq.audio uses them to give an MP3 without a length header its length, to find an Ogg's lost pages and its
missing end (and a Vorbis packet's block size, to place the last page after a hole), and to read a CAF whose
recording was never finished or that was cut short.

    first, frames, header = l3_count(path)              # an MP3 whose first frame is no Xing/Info header
    for start, end, granule, seq, serial, flags in ogg_pages(path): ...
"""
from __future__ import annotations

import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import Iterator

__all__ = ["L3_SIZES", "l3_count", "OGG_END", "ogg_crc", "ogg_pages", "ogg_packets", "ogg_stream_packets",
           "opus_samples", "vorbis_blocks", "vorbis_block", "caf_unfinished", "caf_cut", "caf_no_packet_table",
           "caf_no_data"]


def _l3_sizes() -> dict[int, int]:
    """The bytes of an MPEG Layer III frame (MPEG-1, 2 or 2.5) by its header's second and third bytes (after the
    0xFF of its sync word): version, layer, bit rate, sample rate and padding say it (ISO 11172-3, 13818-3). Free
    format (bit rate 0) and the invalid values are left out."""
    kbps = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
            2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by the version bits
    sizes = {}
    for b1 in range(0xE2, 0x100):
        version = (b1 >> 3) & 3
        if version == 1 or (b1 >> 1) & 3 != 1:  # a reserved version; Layer I or II
            continue
        for b2 in range(0x10, 0xF0):
            if (b2 >> 2) & 3 != 3:
                rate = rates[version][(b2 >> 2) & 3]
                bits = 1000 * kbps[3 if version == 3 else 2][b2 >> 4]
                sizes[b1 << 8 | b2] = (144 if version == 3 else 72) * bits // rate + ((b2 >> 1) & 1)
    return sizes


L3_SIZES = _l3_sizes()
_MP3_TRAILERS = (b"TAG", b"APETAGEX", b"LYRICS")  # tags after the last frame (ID3v1, APE, Lyrics3)


def l3_count(p: Path) -> tuple[int, int, bytes] | None:
    """(byte of the first audio frame, frames, that frame's header) of the MPEG Layer III file `p` whose first frame
    is no Xing/Info header of its length; None for a file with one (libsndfile then reads its length from there),
    or whose frames are not found (Layer I or II, free format). The frames are counted from their headers, past an
    ID3v2 tag in front and a VBRI header (which libmpg123 does not read: a frame of its bit rate, to it); where
    bytes that are no frame come between them (damage), on from the next two frames that follow one another, as
    the decoder goes on."""
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size, pos = len(m), 0
        while m[pos:pos + 3] == b"ID3" and pos + 10 <= size:  # ID3v2: its size in 7-bit bytes, a footer flagged
            pos += 10 + sum(m[pos + 6 + k] << 7 * (3 - k) for k in range(4)) + (10 if m[pos + 5] & 0x10 else 0)

        def key(at: int) -> int | None:  # the header's second and third bytes, where a frame starts at `at`
            return m[at + 1] << 8 | m[at + 2] if at + 4 <= size and m[at] == 0xFF else None

        def sync(at: int, end: int, same=None) -> int | None:  # the first frame from `at` to `end` that a frame
            while 0 <= (at := m.find(b"\xff", at, end + 1)) and at + 4 <= size:  # follows, both `same`
                n = L3_SIZES.get(key(at))
                k = key(at + n) if n else None
                if n and k in L3_SIZES and (same is None or same(key(at))) and (k ^ key(at)) & 0xFE0C == 0:
                    return at
                at += 1
            return None

        first = sync(pos, pos + (1 << 16))  # not a whole Layer I or II file's bytes
        if first is None or any(m.find(tag, first + 4, first + 44) >= 0 for tag in (b"Xing", b"Info")):
            return None
        if m[first + 36:first + 40] == b"VBRI":
            first += L3_SIZES[key(first)]
            if key(first) not in L3_SIZES:
                return None
        sizes = {k: n for k, n in L3_SIZES.items() if (k ^ key(first)) & 0xFE0C == 0}  # version, layer, rate
        frames, pos = 0, first
        while pos + 4 <= size:
            n = sizes.get(key(pos))
            if n is None:
                if any(m[pos:pos + len(t)] == t for t in _MP3_TRAILERS):
                    break
                pos = sync(pos + 1, size, lambda k: k in sizes)
                if pos is None:
                    break
                continue
            if pos + n > size:  # a last frame cut short: the decoder makes nothing of it
                break
            frames, pos = frames + 1, pos + n
        return first, frames, m[first:first + 4]


_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(page: bytes) -> int:
    """An Ogg page's checksum (CRC-32 of polynomial 0x04C11DB7 taken most significant bit first, from 0, none
    inverted): zlib's CRC-32, which takes bits least significant first, of the bytes bit-reversed, from 0."""
    crc = zlib.crc32(page.translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{crc:032b}"[::-1], 2)


OGG_END = 4  # a page's header type flag: the last page of its stream (end of stream), which every writer sets


def ogg_pages(p: Path) -> list[tuple[int, int, int, int, int, int]]:
    """(start byte, end byte, granule position, sequence number, serial number, header type flags) of each page of
    the Ogg file `p` whose checksum holds, in order: the pages its decoder reads (libogg skips any other, and the
    bytes that are no page)."""
    pages = []
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos, size = 0, len(m)
        while (i := m.find(b"OggS", pos)) >= 0 and i + 27 <= size:
            flags, granule, serial, seq, crc, segments = struct.unpack("<5xBqIIIB", m[i:i + 27])
            end = i + 27 + segments + sum(m[i + 27:i + 27 + segments])
            if end <= size and ogg_crc(m[i:i + 22] + bytes(4) + m[i + 26:end]) == crc:
                pages.append((i, end, granule, seq, serial, flags))
                pos = end
            else:
                pos = i + 1
    return pages


def ogg_packets(page: bytes) -> list[bytes]:
    """The packets that end on the Ogg page `page` (its bytes, header and all), less one that began on a page before
    it (the page holds only its end): each packet's segments run to the first shorter than 255 bytes."""
    segments = page[26]
    out, pos, size = [], 27 + segments, 0
    for n in page[27:27 + segments]:
        size += n
        if n < 255:
            out.append(page[pos:pos + size])
            pos, size = pos + size, 0
    return out[1:] if page[5] & 1 else out  # flag 1: the page goes on with a packet begun before it


def ogg_stream_packets(blob: bytes) -> list[bytes]:
    """The packets that end on the Ogg pages `blob` (pages of one stream, one after another, none missing between
    them), each whole where it runs over several of them; less one begun before the first."""
    out, part, pos = [], None if blob[5:6] and blob[5] & 1 else b"", 0
    while pos + 27 <= len(blob):
        segments = blob[pos + 26]
        at = pos + 27 + segments
        for n in blob[pos + 27:pos + 27 + segments]:
            if part is not None:
                part += blob[at:at + n]
            at += n
            if n < 255:
                if part is not None:
                    out.append(part)
                part = b""
        pos = at
    return out


def vorbis_blocks(headers: bytes) -> tuple[int, int, tuple[int, ...]] | None:
    """(short block size, long block size, each mode's block flag) of the Ogg Vorbis stream whose header pages are
    `headers`: the sizes from its identification header, the modes from its setup header. The modes close the setup
    header, before its framing bit, 41 bits each (a block flag, a window type and a transform type of 16 bits, both
    0, a mapping below 64), after their count less one in 6 bits: read back from its end, the most that the 6 bits
    before them count (as FFmpeg's parser reads them; the codebooks before them would take the whole header to
    parse). None where the headers are not Vorbis's, or no count of modes fits."""
    packets = ogg_stream_packets(headers)
    if len(packets) < 3 or not packets[0].startswith(b"\x01vorbis") or len(packets[0]) < 29 \
            or not packets[2].startswith(b"\x05vorbis"):
        return None
    sizes = packets[0][28]
    bits = int.from_bytes(packets[2][7:], "little")
    pos, flags, modes = bits.bit_length() - 1, [], None  # the framing bit, the last set
    while pos >= 47 and len(flags) < 64:
        mode = bits >> (pos - 41) & (1 << 41) - 1
        if mode >> 1 & 0xFFFF or mode >> 17 & 0xFFFF or mode >> 33 > 63:
            break
        flags.insert(0, mode & 1)
        pos -= 41
        if bits >> (pos - 6) & 63 == len(flags) - 1:
            modes = tuple(flags)
    return None if modes is None else (1 << (sizes & 0x0F), 1 << (sizes >> 4), modes)


def vorbis_block(packet: bytes, blocks: tuple[int, int, tuple[int, ...]]) -> tuple[int, int, int]:
    """(block size, the block size before it, the block size after it) of the Vorbis audio packet `packet` in the
    stream of `blocks` (vorbis_blocks): its mode's, the mode numbered after its type bit (0: audio) in as many bits
    as the highest mode number needs; a long block's packet says in the two bits after whether the blocks either
    side are long (its window's shape depends on them), a short block's does not (0). (0, 0, 0) for no audio packet
    (empty, a header, a mode there is not)."""
    short, long, modes = blocks
    if not packet or packet[0] & 1:
        return 0, 0, 0
    bits = (len(modes) - 1).bit_length()
    word = int.from_bytes(packet[:2], "little") >> 1
    mode = word & (1 << bits) - 1
    if mode >= len(modes):
        return 0, 0, 0
    if not modes[mode]:
        return short, 0, 0
    return long, long if word >> bits & 1 else short, long if word >> bits + 1 & 1 else short


def opus_samples(packet: bytes) -> int:
    """The samples (at 48 kHz, as Opus granule positions count) of the Opus packet `packet`, from its TOC byte: the
    frame size its configuration gives, times the frames its code says (RFC 6716, 3.1); 0 for no packet."""
    if not packet:
        return 0
    config, code = packet[0] >> 3, packet[0] & 3
    size = ((480, 960, 1920, 2880)[config & 3] if config < 12 else (480, 960)[config & 1] if config < 16
            else (120, 240, 480, 960)[config & 3])
    count = 1 if code == 0 else 2 if code < 3 else (packet[1] & 0x3F if len(packet) > 1 else 0)
    return size * count


def _caf_chunks(fh) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, the byte where its header starts, its size as written, the file's size) of each chunk of the CAF file
    open as `fh` (a type, a 64-bit big-endian size, the contents), `fh` left at the chunk's contents; none where it is
    no CAF. The walk ends after a chunk of negative size (-1: it runs to the file's end) and at the file's end."""
    if fh.read(4) != b"caff":
        return
    pos, size = 8, os.fstat(fh.fileno()).st_size
    while pos + 12 <= size:
        fh.seek(pos)
        kind, n = struct.unpack(">4sq", fh.read(12))
        yield kind, pos, n, size
        if n < 0:
            return
        pos += 12 + n


def caf_unfinished(p: Path) -> tuple[int, bytes] | None:
    """(the byte where the data chunk's contents start, the audio's format ID: b"lpcm", b"ulaw", b"alac"...) of the
    CAF file `p` whose data chunk's size is -1: a recorder writes -1 there while it records (the chunk runs to the
    end of the file) and the size when it stops, so an interrupted recording keeps -1 (libsndfile refuses such a
    file as malformed). None for any other file."""
    with open(p, "rb") as fh:
        fmt = b""
        for kind, pos, n, _ in _caf_chunks(fh):
            if kind == b"desc":  # the sample rate (a 64-bit float), then the format ID
                fmt = fh.read(12)[8:]
            if kind == b"data" and n == -1:
                return pos + 12, fmt
    return None


def caf_cut(p: Path) -> tuple[bytes, int, int, int] | None:
    """(its bytes up to its audio, made those of a file of the audio there; the byte where its audio starts; the
    bytes of audio its header says; the bytes there) of the CAF file `p` cut short inside its data chunk (a copy or
    a download stopped): the chunk's size runs past the file's end, and libsndfile refuses it as malformed. The data
    chunk's size is made the bytes there and, where a packet table (ALAC's) comes before it, the table those of the
    packets wholly there (its valid frames theirs, less the priming frames): libsndfile counts the packets from the
    table's entries. None for any other file, and for one whose packets vary in size and whose table is not before
    its audio (caf_no_packet_table says so)."""
    with open(p, "rb") as fh:
        fmt, table = None, None
        for kind, pos, n, size in _caf_chunks(fh):
            if kind == b"desc":  # sample rate (f64), format ID, flags, bytes a packet, frames a packet, ...
                d = fh.read(24)
                fmt = struct.unpack(">II", d[16:24]) if len(d) == 24 else None
            elif kind == b"pakt" and n >= 24:
                table = pos, n
            elif kind == b"data":
                if n < 0 or pos + 12 + n <= size or fmt is None or not fmt[0] and table is None:
                    return None
                fh.seek(0)
                head, held = fh.read(pos + 4) + struct.pack(">q", size - pos - 12), size - pos - 12
                if not fmt[0]:  # packets of varying size: the table of those wholly there
                    at, length = table
                    head = head[:at] + _pakt_held(head[at + 12:at + 12 + length], held, fmt[1]) \
                        + head[at + 12 + length:]
                return head, pos + 12, n, held
    return None


def _pakt_held(pakt: bytes, held: int, frames_each: int) -> bytes:
    """A CAF packet table chunk (its header too) of the packets of `pakt` (the chunk's contents: packets, valid
    frames, priming frames, remainder frames, then each packet's bytes, 7 bits a byte, the high bit set on all but the
    last) wholly in the `held` bytes of a data chunk (its 4-byte edit count first)."""
    packets, _, priming, _ = struct.unpack(">qqii", pakt[:24])
    at, whole, total = 24, 0, 4
    while whole < packets and at < len(pakt):
        start, value = at, 0
        while at < len(pakt):
            value, at = value << 7 | pakt[at] & 0x7F, at + 1
            if not pakt[at - 1] & 0x80:
                break
        if total + value > held:
            at = start
            break
        total, whole = total + value, whole + 1
    counts = pakt[:24] if whole == packets else struct.pack(">qqii", whole, max(0, whole * frames_each - priming),
                                                             priming, 0)
    body = counts + pakt[24:at]
    return b"pakt" + struct.pack(">q", len(body)) + body


def caf_no_packet_table(p: Path) -> bytes | None:
    """The audio's format ID (b"alac"...) of the CAF file `p` whose audio is in packets of varying size (its
    description's bytes or frames a packet 0: ALAC) and whose packet table, which says where each packet ends, is
    missing or counts no packets while its data chunk holds audio: a recorder writes the table when it stops, so an
    interrupted recording (or one cut short before it) lacks it, and libsndfile finds no frames in it, or fails.
    None for any other file."""
    with open(p, "rb") as fh:
        fmt, varying, packets, audio = None, False, 0, 0
        for kind, pos, n, size in _caf_chunks(fh):
            if kind == b"desc":  # sample rate (f64), format ID, flags, bytes a packet, frames a packet, ...
                d = fh.read(24)
                if len(d) == 24:
                    fmt, bytes_each, frames_each = d[8:12], *struct.unpack(">II", d[16:24])
                    varying = not bytes_each or not frames_each
            elif kind == b"pakt":  # packets, valid frames, priming frames, remainder frames, the table
                packets = struct.unpack(">q", fh.read(8).rjust(8, b"\0"))[0]
            elif kind == b"data":  # an edit count (4 bytes), then the packets: to the file's end where -1
                audio = (size - pos - 12 if n < 0 else min(n, size - pos - 12)) - 4
    return fmt if fmt is not None and varying and packets <= 0 and audio > 0 else None


def caf_no_data(p: Path) -> bool:
    """Whether `p` is a CAF file whose data chunk holds no audio: its size 0 to 4 (its 4-byte edit count alone, or
    not even that, as a recorder that wrote the chunk's header and no more leaves it). libsndfile refuses a size of 0
    with an error of its own ("Unspecified internal error", "SF_INFO struct incomplete"), not as an empty file."""
    with open(p, "rb") as fh:
        for kind, _, n, _ in _caf_chunks(fh):
            if kind == b"data":
                return 0 <= n <= 4
    return False
