"""Admin commands on a real database: ``attune user ...`` and ``attune client ...``."""

from __future__ import annotations

import asyncio
import io
import time

from attune.api.passwords import Passwords
from attune.api.tokens import Tokens
from attune.cli import build_parser
from attune.settings import Settings
from attune.store import Store

PASSWORD = "a long enough password"


def attune(capsys, monkeypatch, tmp_path, *args: str, stdin: str = "") -> tuple[int, str]:
    """Run a command as ``attune`` would, minus configuring logging for the process (which
    would point structlog at this test's captured stderr for good)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    parsed = build_parser().parse_args([*args, "--data-dir", str(tmp_path)])
    code = parsed.run(parsed)
    return code, capsys.readouterr().out


def credentials(tmp_path, username: str):
    async def read():
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
        try:
            return await store.accounts.credentials(username)
        finally:
            await store.close()

    return asyncio.run(read())


def test_user_add_list_password(capsys, monkeypatch, tmp_path) -> None:
    run = lambda *a, stdin="": attune(capsys, monkeypatch, tmp_path, *a, stdin=stdin)  # noqa: E731
    code, out = run("user", "add", "bob", "--name", "Bob B.", "--password-stdin", stdin=PASSWORD)
    assert code == 0
    assert out.startswith("added therapist bob")
    therapist, password_hash = credentials(tmp_path, "bob")
    assert therapist.display_name == "Bob B."
    assert Passwords().verify(password_hash, PASSWORD)
    assert run("user", "add", "bob", "--password-stdin", stdin=PASSWORD) == (
        1,
        "error: a therapist named 'bob' exists\n",
    )
    code, out = run("user", "add", "eve", "--password-stdin", stdin="short")
    assert (code, out) == (1, "error: a password needs at least 10 characters\n")
    assert credentials(tmp_path, "eve") is None
    assert run("user", "list")[1].split("\t")[:2] == ["bob", "Bob B."]
    assert run("user", "password", "bob", "--password-stdin", stdin="another long one")[0] == 0
    assert Passwords().verify(credentials(tmp_path, "bob")[1], "another long one")
    assert run("user", "password", "nobody", "--password-stdin", stdin=PASSWORD)[0] == 1


def test_user_link_prints_a_working_sign_in_link(capsys, monkeypatch, tmp_path) -> None:
    attune(capsys, monkeypatch, tmp_path, "user", "add", "bob", "--password-stdin", stdin=PASSWORD)
    code, out = attune(
        capsys,
        monkeypatch,
        tmp_path,
        "user",
        "link",
        "bob",
        "--base-url",
        "https://clinic.example/",
    )
    assert code == 0
    prefix = "https://clinic.example/api/auth/signin/"
    assert out.startswith(prefix)
    secret = Settings(data_dir=tmp_path).resolved_secret_key()
    claims = Tokens(secret).read_sign_in(out.strip().removeprefix(prefix), now_s=time.time())
    assert claims.therapist_id == credentials(tmp_path, "bob")[0].id
    assert claims.next_path == "/view/therapist"


def test_client_delete_erases_and_is_audited(capsys, monkeypatch, tmp_path) -> None:
    async def prepare() -> str:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
        try:
            therapist = await store.accounts.add_therapist("ana", "Ana", "-", now_s=time.time())
            client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=time.time())
            await store.sessions.create("S", now_s=time.time(), client_id=client.id)
            return client.id
        finally:
            await store.close()

    client_id = asyncio.run(prepare())
    code, out = attune(capsys, monkeypatch, tmp_path, "client", "list")
    assert out.split("\t")[:2] == [client_id, "C-1"]
    code, out = attune(capsys, monkeypatch, tmp_path, "client", "delete", client_id, stdin="n\n")
    assert code == 1
    code, out = attune(capsys, monkeypatch, tmp_path, "client", "delete", client_id, "--yes")
    assert code == 0
    assert out.startswith(f"erased client {client_id} and 1 session(s)")
    assert attune(capsys, monkeypatch, tmp_path, "client", "list")[1] == ""
    code, out = attune(capsys, monkeypatch, tmp_path, "client", "delete", client_id, "--yes")
    assert (code, out) == (1, f"error: no client {client_id}\n")

    async def trail():
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
        try:
            return await store.audit.entries()
        finally:
            await store.close()

    assert [(e.actor, e.action, e.resource) for e in asyncio.run(trail())] == [
        ("admin", "client.delete", f"client:{client_id}")
    ]
