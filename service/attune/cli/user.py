"""``attune user ...``: therapist accounts (add, list, password) and one-time sign-in links."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TYPE_CHECKING

from attune.api.links import issue_sign_in_link
from attune.api.passwords import MIN_PASSWORD_CHARS, Passwords
from attune.api.tokens import Tokens
from attune.cli.common import add_data_options, async_command, open_store, say, settings_from
from attune.errors import ConfigError, NotFoundError
from attune.store import Store, TherapistRow

if TYPE_CHECKING:
    from attune.cli.common import Subcommands


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("user", help="manage therapist accounts", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a therapist account")
    add.add_argument("username")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=async_command(_add))

    listing = actions.add_parser("list", help="list therapist accounts")
    listing.set_defaults(run=async_command(_list))

    password = actions.add_parser("password", help="set a therapist's password")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(run=async_command(_password))

    link = actions.add_parser("link", help="print a one-time sign-in link (valid 15 minutes)")
    link.add_argument("username")
    link.add_argument("--base-url", default="http://127.0.0.1:8000", help="the service's URL")
    link.add_argument("--session", help="open the console on this session")
    link.set_defaults(run=async_command(_link))

    for sub in (add, listing, password, link):
        add_data_options(sub)


def read_password(*, from_stdin: bool) -> str:
    """The new password, from stdin or asked twice on the terminal; ConfigError if unusable."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("the passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


async def _add(args: argparse.Namespace) -> int:
    password_hash = Passwords().hash(read_password(from_stdin=args.password_stdin))
    async with open_store(settings_from(args)) as store:
        row = await store.accounts.add_therapist(
            args.username, args.name or args.username, password_hash, now_s=time.time()
        )
    say(f"added therapist {row.username} ({row.id})")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with open_store(settings_from(args)) as store:
        for row in await store.accounts.therapists():
            say(f"{row.username}\t{row.display_name}\t{row.id}")
    return 0


async def _password(args: argparse.Namespace) -> int:
    password_hash = Passwords().hash(read_password(from_stdin=args.password_stdin))
    async with open_store(settings_from(args)) as store:
        row = await _therapist(store, args.username)
        await store.accounts.set_password_hash(row.id, password_hash)
    say(f"password set for {row.username}")
    return 0


async def _link(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as store:
        row = await _therapist(store, args.username)
    tokens = Tokens(settings.resolved_secret_key())
    base = args.base_url.rstrip("/")
    say(issue_sign_in_link(tokens, base, row.id, session_id=args.session, now_s=time.time()))
    return 0


async def _therapist(store: Store, username: str) -> TherapistRow:
    found = await store.accounts.credentials(username)
    if found is None:
        raise NotFoundError(f"no therapist {username!r} (attune user list)")
    return found[0]
