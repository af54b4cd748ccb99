"""``sextant``: administer users and signing keys in the gateway's auth database.

The database is the one the gateway uses (``SEXTANT_AUTH_DATABASE_URL``, else SQLite under
``SEXTANT_DATA_DIR``). The first admin is made here; there is no default password anywhere::

    sextant users create alice --role admin          # asks for the password twice
    echo "$PASSWORD" | sextant users create bob --role researcher --password-stdin
    sextant users list
    sextant users set-role bob viewer
    sextant users disable bob                        # also ends bob's sessions
    sextant users passwd bob
    sextant keys rotate                              # nobody is logged out
    sextant keys list
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from sextant_gateway.auth import passwords
from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.service import Auth
from sextant_gateway.settings import GatewaySettings


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sextant", description=__doc__.split("\n\n")[0])
    groups = parser.add_subparsers(dest="group", required=True)
    users = groups.add_parser("users", help="user accounts").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="add a user")
    create.add_argument("username")
    create.add_argument("--role", choices=[r.name for r in Role], default=Role.viewer.name)
    create.add_argument("--password-stdin", action="store_true", help="read one line from stdin")
    users.add_parser("list", help="list users")
    set_role = users.add_parser("set-role", help="change a user's role")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=[r.name for r in Role])
    for action, text in (("disable", "disable a user"), ("enable", "enable a user")):
        users.add_parser(action, help=text).add_argument("username")
    passwd = users.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    keys = groups.add_parser("keys", help="token signing keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("rotate", help="sign with a new key; older tokens stay valid until expiry")
    keys.add_parser("list", help="list the keys that verify tokens")
    return parser


def run(argv: Sequence[str], auth: Auth) -> str:
    """Do what ``argv`` asks; return what to print (ValueError for a refused change)."""
    args = _parser().parse_args(argv)
    store = auth.store
    if args.group == "keys":
        if args.action == "rotate":
            return f"new signing key {auth.keys.rotate()}"
        return "\n".join(f"{k.kid}  created {_when(k.created_at)}" for k in store.signing_keys())
    if args.action == "create":
        user = auth.create_user(
            args.username, _read_password(args.password_stdin), Role.parse(args.role)
        )
        return f"created {user.username} ({user.role.name})"
    if args.action == "list":
        return "\n".join(
            f"{u.username}  {u.role.name}{'  disabled' if u.disabled else ''}"
            f"  since {_when(u.created_at)}"
            for u in store.list_users()
        )
    changed = store.update_user(
        args.username,
        role=Role.parse(args.role) if args.action == "set-role" else None,
        disabled=args.action == "disable" if args.action in ("disable", "enable") else None,
        password_hash=passwords.hash_password(_read_password(args.password_stdin))
        if args.action == "passwd"
        else None,
    )
    if changed is None:
        raise ValueError(f"no user {args.username!r}")
    return f"{changed.username}: {changed.role.name}{', disabled' if changed.disabled else ''}"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``sextant`` command."""
    auth = Auth(GatewaySettings())
    try:
        print(run(sys.argv[1:] if argv is None else argv, auth))
    except ValueError as exc:
        print(f"sextant: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        auth.close()


if __name__ == "__main__":
    main()
