"""The one error type that actions raise; the API turns it into the contract's error body."""

from __future__ import annotations


class ActionError(Exception):
    """A request that cannot be carried out; nothing was written.

    `code` is a stable machine-readable word, `detail` a sentence for a person, `status` the HTTP
    status the API answers with, `field` the request field at fault (if any).
    """

    def __init__(self, code: str, detail: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status, self.field = code, detail, status, field
