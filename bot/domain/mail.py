"""E-mail addresses as the dean's office types them: what the bot accepts as one."""

from __future__ import annotations

import re

MAX_ADDRESS_LENGTH = 254  # RFC 5321: the longest path a server must accept

# A pragmatic shape, not the whole of RFC 5322: a dot-atom local part and a domain of
# letter-digit-hyphen labels with a top-level one. Quoted local parts and IP literals are
# legal but no dean's office uses them, and refusing them catches typos early.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_address(text: str) -> str | None:
    """The address (domain in lower case, mailto: dropped) if it has the shape of one."""
    candidate = text.strip()
    if candidate.lower().startswith("mailto:"):
        candidate = candidate[len("mailto:") :]
    if not candidate or len(candidate) > MAX_ADDRESS_LENGTH:
        return None
    local, at, domain = candidate.rpartition("@")
    if not at or not _LOCAL.match(local) or len(local) > 64:
        return None
    labels = domain.lower().split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # an IP address, not a mail domain
    return f"{local}@{'.'.join(labels)}"
