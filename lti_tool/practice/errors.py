"""Domain errors of the practice engine; the web layer maps each to one HTTP status."""

from __future__ import annotations


class PracticeError(Exception):
    """Base. ``code`` is stable for API clients; the message is for people."""

    code = "practice_error"


class NotFoundError(PracticeError):
    """No such attempt, item or lesson - or not yours (we do not say which)."""

    code = "not_found"


class InvalidRequestError(PracticeError):
    """The request does not fit the attempt: unknown choice, item not in this attempt."""

    code = "invalid_request"


class AttemptClosedError(PracticeError):
    """The attempt was submitted (or timed out) and takes no more answers."""

    code = "attempt_closed"


class ConflictError(PracticeError):
    """Another tab changed the attempt at the same moment; reload and try again."""

    code = "conflict"


class CurriculumError(PracticeError):
    """The curriculum tables lack a fact the engine needs (a pass mark): the content in
    the database is older than the tool. An operator loads the current content; the
    engine never guesses the missing fact."""

    code = "content_not_loaded"
