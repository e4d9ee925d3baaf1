"""A client described so that another process can build it again (a Dask worker builds its shard's client from
one): :class:`ClientSpec`, made by :meth:`Client.spec() <streamkit.connection.Client.spec>`, with the credentials
in a :class:`Secret` that never shows itself."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._redact import REDACTED, redact

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ClientSpec", "Secret"]


class Secret:
    """Credentials on their way to another process (a client's headers, an SMC API key or password): pickled with
    the task, never shown. They are the keyword arguments of the client's constructor that hold credentials.

    The repr, str and format say ``<redacted>`` so that nothing Dask prints or logs about a task (its
    arguments in a failed task's log, the dashboard) can carry them.

    >>> secret = Secret({"headers": {"Authorization": "Token abc"}})
    >>> secret, str(secret), f"{secret}"
    (Secret(<redacted>), 'Secret(<redacted>)', 'Secret(<redacted>)')
    >>> secret.reveal()["headers"]["Authorization"]
    'Token abc'
    """

    __slots__ = ("_value",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        self._value = dict(value)

    def reveal(self) -> dict[str, Any]:
        """The keyword arguments themselves (for the process that builds the client)."""
        return dict(self._value)

    def _texts(self) -> Iterator[str]:
        for value in self._value.values():
            for text in value.values() if isinstance(value, Mapping) else (value,):
                if isinstance(text, str):
                    yield text

    def scrub(self, text: str) -> str:
        """``text`` (an error's message, a traceback) with these credentials replaced by ``<redacted>``: each
        value and the credential after its scheme (``Token ...``), then what :func:`redact` finds (cookies,
        ``token=`` ...).

        >>> Secret({"headers": {"Authorization": "Token abc123"}}).scrub("refused abc123 (Token abc123)")
        'refused <redacted> (<redacted>)'
        >>> Secret({"credentials": {"api_key": "k3y-k3y", "login": "admin"}}).scrub("admin: administrative domain")
        '<redacted>: administrative domain'
        """
        for value in self._texts():
            for credential in (value, value.partition(" ")[2]):
                if len(credential) >= 4:  # (shorter strings would blot out ordinary words, and are no credential)
                    # whole words only: an SMC login such as "admin" must not blot out "administrative"
                    text = re.sub(rf"(?<![\w-]){re.escape(credential)}(?![\w-])", REDACTED, text)
        return redact(text)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(type(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))

    def __dask_tokenize__(self) -> str:
        return "streamkit-secret"  # a token that does not depend on the credentials


@dataclass(frozen=True)
class ClientSpec:
    """How to build a client again in another process: its class, its constructor's keyword arguments, and those
    that are credentials in a :class:`Secret`. :meth:`Client.spec() <streamkit.connection.Client.spec>` makes it.

    >>> import pickle, streamkit as sk
    >>> with sk.mist(url="ws://127.0.0.1:9/api-ws/v1/stream", token="s3cret") as mist:
    ...     spec = mist.spec()
    >>> spec
    ClientSpec(MistClient ws://127.0.0.1:9/api-ws/v1/stream secret=Secret(<redacted>))
    >>> b"s3cret" in pickle.dumps(spec), "s3cret" in repr(spec)     # it travels, it never shows
    (True, False)
    >>> again = spec.build()                          # what a worker does with it
    >>> type(again).__name__, again.url == mist.url
    ('MistClient', True)
    >>> again.close()
    """

    kind: type[Client]
    options: dict[str, Any]
    secret: Secret

    @property
    def url(self) -> str:
        return str(self.options["url"])

    def build(self, **overrides: Any) -> Client:
        """A new client like the one described (on the calling thread's loop: a worker's), with ``overrides``
        (``channels_per_connection=`` ...; None: as described) in place of what was described. Each build has a
        fresh protocol adapter."""
        options = {**self.options, **{name: value for name, value in overrides.items() if value is not None}}
        adapter = options.get("adapter")
        if adapter is not None:
            options["adapter"] = adapter.fresh()
        return self.kind(**options, **self.secret.reveal())

    def __repr__(self) -> str:
        return f"ClientSpec({self.kind.__name__} {self.url} secret={self.secret!r})"
