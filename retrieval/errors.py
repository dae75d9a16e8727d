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
