"""secretfile_client: read API keys from the secretfile agent, in Python, with the standard library only.

A job that runs under `secretfile exec` needs none of this: its keys are already in ``os.environ``. This module
is for a long-running Python program that asks the agent itself, when it needs a key::

    import secretfile_client

    key = secretfile_client.get("MERAKI_API_KEY")      # one value, a str
    keys = secretfile_client.get_all()                 # {name: value} of the names the policy writes out for you
    keys = secretfile_client.get_all(["A_KEY", "B_KEY"])

The agent decides who you are from the kernel (SO_PEERCRED), checks its policy, and writes every answer to its
audit log. The socket is ``$SECRETFILE_SOCKET``, else ``/run/secretfile/agent.sock``; pass ``socket_path=`` to
choose another. Errors are plain Python exceptions, each also a ``SecretfileError`` carrying the agent's ``code``
and ``hint``:

- ``Denied`` (a ``PermissionError``): the policy does not let this user read that name (``secretfile`` exit 4).
- ``NotFound`` (a ``KeyError``): no such secret; said only to a user who may read that name (exit 3).
- ``AgentUnreachable`` (a ``ConnectionError``): no agent answers on the socket, or not in time (exit 6).
- ``SecretfileError``: anything else the agent refused or failed to do.

Copy this one file next to your program, or anywhere on ``sys.path``. Python 3.8 or newer. The wire protocol is
docs/protocol.md in the secretfile repository.
"""

import json
import os
import socket

__all__ = ["get", "get_all", "ping", "SecretfileError", "Denied", "NotFound", "AgentUnreachable", "DEFAULT_SOCKET"]

DEFAULT_SOCKET = "/run/secretfile/agent.sock"
PROTOCOL_VERSION = 1
_MAX_ANSWER = 256 * 1024 * 1024


class SecretfileError(Exception):
    """The agent refused or failed; ``code`` is the agent's error code, ``hint`` what to do (or None)."""

    def __init__(self, message, code="failure", hint=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint

    def __str__(self):
        return self.message if self.hint is None else "%s (hint: %s)" % (self.message, self.hint)


class Denied(SecretfileError, PermissionError):
    """The policy does not let this user read the secret (code "denied")."""


class NotFound(SecretfileError, KeyError):
    """There is no secret of that name (code "not-found")."""

    def __str__(self):  # KeyError would print the repr of its argument
        return SecretfileError.__str__(self)


class AgentUnreachable(SecretfileError, ConnectionError):
    """No agent answers on the socket (code "agent-unreachable")."""


_BY_CODE = {"denied": Denied, "not-found": NotFound, "agent-unreachable": AgentUnreachable}


def get(name, socket_path=None, timeout=10.0):
    """Returns the value of the secret ``name`` (a str).

    Raises Denied (PermissionError), NotFound (KeyError), AgentUnreachable (ConnectionError) or SecretfileError.
    """
    return _ask({"v": PROTOCOL_VERSION, "op": "get", "name": name}, socket_path, timeout)["value"]


def get_all(names=None, socket_path=None, timeout=10.0):
    """Returns {name: value} for ``names`` (a list), or when None for the names the policy writes out for this user
    (a glob's names only when asked for by name).

    Asking for a name you may not read raises Denied for the whole request: nothing is returned.
    """
    request = {"v": PROTOCOL_VERSION, "op": "values"}
    if names is not None:
        request["names"] = list(names)
    return dict(_ask(request, socket_path, timeout)["values"])


def ping(socket_path=None, timeout=10.0):
    """Returns the agent's protocol version; raises AgentUnreachable when no agent answers."""
    return _ask({"v": PROTOCOL_VERSION, "op": "ping"}, socket_path, timeout)["version"]


def _ask(request, socket_path, timeout):
    path = socket_path or os.environ.get("SECRETFILE_SOCKET") or DEFAULT_SOCKET
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(json.dumps(request).encode("utf-8") + b"\n")
            conn.shutdown(socket.SHUT_WR)
            data = _read_line(conn)
    except socket.timeout:
        raise AgentUnreachable("the agent at %s did not answer within %s s" % (path, timeout), "agent-unreachable",
                               "look at its log: journalctl -u secretfile") from None
    except OSError as err:
        raise AgentUnreachable("cannot reach the agent at %s (%s)" % (path, err.strerror or err), "agent-unreachable",
                               "is it running? systemctl status secretfile.socket secretfile") from None
    if not data:
        raise AgentUnreachable("the agent at %s closed the connection without answering" % path, "agent-unreachable",
                               "look at its log: journalctl -u secretfile")
    try:
        answer = json.loads(data.decode("utf-8"))
    except ValueError:
        raise SecretfileError("the agent at %s sent an answer that is not JSON" % path) from None
    if answer.get("ok") is True:
        return answer
    error = answer.get("error") or {}
    code = error.get("code", "failure")
    raise _BY_CODE.get(code, SecretfileError)(error.get("message", "the agent refused"), code, error.get("hint"))


def _read_line(conn):
    chunks = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline != -1:
            chunks.append(chunk[:newline])
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_ANSWER:
            raise SecretfileError("the agent sent an oversized answer")
    return b"".join(chunks)
