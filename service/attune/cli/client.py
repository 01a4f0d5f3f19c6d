"""``attune client ...``: list clients, and erase a client with everything recorded about them."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from attune.cli.common import add_data_options, async_command, open_store, say, settings_from
from attune.store import AuditEntry

if TYPE_CHECKING:
    from attune.cli.common import Subcommands


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("client", help="list or erase clients", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list every therapist's clients")
    listing.set_defaults(run=async_command(_list))
    delete = actions.add_parser(
        "delete", help="erase a client: their sessions, recordings, markers, links"
    )
    delete.add_argument("client_id")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=_delete)
    for sub in (listing, delete):
        add_data_options(sub)


async def _list(args: argparse.Namespace) -> int:
    async with open_store(settings_from(args)) as store:
        for therapist in await store.accounts.therapists():
            for client in await store.clients.of_therapist(therapist.id):
                say(f"{client.id}\t{client.pseudonym}\t{therapist.username}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    if not args.yes and input(f"Erase client {args.client_id} and all their data? [y/N] ") != "y":
        say("nothing erased")
        return 1
    return async_command(_erase)(args)


async def _erase(args: argparse.Namespace) -> int:
    async with open_store(settings_from(args)) as store:
        sessions = await store.clients.delete(args.client_id)
        await store.audit.append(
            AuditEntry(
                at_s=time.time(),
                actor="admin",
                role="admin",
                action="client.delete",
                resource=f"client:{args.client_id}",
                session_id=None,
                outcome="ok",
            )
        )
    say(f"erased client {args.client_id} and {sessions} session(s)")
    say("a running service keeps live sessions in memory until it restarts: restart it")
    return 0
