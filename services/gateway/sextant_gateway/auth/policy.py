"""Who may call what: the roles and the one table that maps each public route to the least role.

Roles are ordered: a researcher may do everything a viewer may, an admin everything. Reading
market data and analytics needs a viewer; what spends shared resources (jobs, provider calls,
the agent) or creates datasets needs a researcher; what rewrites storage, replays dead letters
or manages users and keys needs an admin. ``None`` means public: health, sign-in, the API
documents and the web page itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.IntEnum):
    """A user's role; a higher value includes every lower one."""

    viewer = 1
    researcher = 2
    admin = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """The role called ``name``; ValueError listing the roles otherwise."""
        try:
            return cls[name]
        except KeyError:
            raise ValueError(
                f"unknown role {name!r}: use one of {', '.join(r.name for r in cls)}"
            ) from None


ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
READS = frozenset({"GET", "HEAD"})
WRITES = ANY - READS


@dataclass(frozen=True)
class Rule:
    """Requests with one of ``methods`` on ``prefix`` (the path itself or below it) need
    ``role`` (None: public)."""

    methods: frozenset[str]
    prefix: str
    role: Role | None

    def covers(self, method: str, path: str) -> bool:
        """Whether this rule decides ``method path``."""
        return method in self.methods and (
            path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")
        )


RULES: tuple[Rule, ...] = (
    Rule(ANY, "/api/v1/auth/token", None),
    Rule(ANY, "/api/v1/auth/logout", None),  # the refresh token in the body is the credential
    Rule(READS, "/api/v1/auth/jwks", None),
    Rule(ANY, "/api/v1/auth/keys", Role.admin),
    Rule(ANY, "/api/v1/users", Role.admin),
    Rule(WRITES, "/api/v1/datasets/storage", Role.admin),
    Rule(WRITES, "/api/v1/dlq", Role.admin),
    Rule(READS, "/api/v1/dlq", Role.researcher),  # dead letters hold raw provider payloads
    Rule(WRITES, "/api/v1/backtests", Role.researcher),
    Rule(WRITES, "/api/v1/sweeps", Role.researcher),
    Rule(ANY, "/api/v1/fetch", Role.researcher),
    Rule(ANY, "/api/v1/agent", Role.researcher),
    Rule(WRITES, "/api/v1/datasets/snapshots", Role.researcher),
    # Computations on stored data (portfolio risk, option pricing): reads with a JSON body.
    Rule(WRITES, "/api/v1/quant", Role.viewer),
    Rule(ANY, "/api", Role.viewer),
    Rule(ANY, "/ws", Role.viewer),
    Rule(ANY, "/metrics", Role.admin),
)
"""First match wins; a request no rule covers (the web page, its assets, ``/health``,
``/ready``, ``/docs``, ``/openapi.json``, ``/asyncapi.json``) is public."""


def required_role(method: str, path: str) -> Role | None:
    """The least role that may send ``method path``, or None when it is public."""
    for rule in RULES:
        if rule.covers(method, path):
            return rule.role
    return None
