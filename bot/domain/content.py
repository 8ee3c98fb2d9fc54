"""What a file really is, judged by its first bytes (the format's magic number), never by
the name or the MIME type the sender's phone declared: both are the sender's to choose,
so a program renamed "справка.pdf" would pass them.

Only the formats a statement's documents and exam works may be are recognised: photos and
scans (JPEG, PNG, HEIC/HEIF, WebP) and PDF.
"""

from __future__ import annotations

# Enough of the head of a file for every signature below (HEIF's brand ends at byte 12).
HEAD_BYTES = 16

# HEIF is an ISO media file: a box "ftyp" at offset 4, its major brand at offset 8.
_HEIF_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}

# The extension a kept file gets, from what its content is.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


def sniff(head: bytes) -> str | None:
    """The MIME type the content shows (from at least its first HEAD_BYTES bytes), or
    None if it is none of the accepted formats."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp" and (brand := _HEIF_BRANDS.get(head[8:12])) is not None:
        return brand
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
