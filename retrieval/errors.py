"""Errors whose messages are safe to show users; each adapter maps them once."""


class PolicyBotError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""


class InvalidQuestion(PolicyBotError):
    """The question is empty or too long."""


class DocumentError(PolicyBotError):
    """A file or URL that cannot become a document: unsupported, corrupt, too large."""


class DuplicateDocument(DocumentError):
    """The same content is already in the corpus."""


class UnknownDocument(PolicyBotError):
    """No document has the given id."""


class IndexUnavailable(PolicyBotError):
    """The index is missing, corrupt or built with other settings."""


class FetchError(DocumentError):
    """A URL was refused or could not be fetched within bounds."""


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` safe to echo to a terminal or a chat: control, format and other invisible
    characters (escape sequences, bidi overrides, newlines) become visible escapes like ``\\x1b``.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
