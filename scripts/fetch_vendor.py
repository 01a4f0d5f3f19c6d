"""Fetch the dashboard's one third-party library, uPlot, from the npm registry: the exact
pinned tarball, checked against the sha512 integrity the registry publishes for that version,
unpacked into dashboard/vendor/uplot/ with its licence and a PROVENANCE note.

uv run python scripts/fetch_vendor.py            # (re)writes dashboard/vendor/uplot/
uv run python scripts/fetch_vendor.py --check    # verifies the committed files match

The vendored files are committed, so a fresh clone works offline; this script makes their
provenance reproducible.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "uplot"
VERSION = "1.6.32"  # pinned; bump deliberately and re-run
REGISTRY = "https://registry.npmjs.org"
# Files taken from the package: the ES module build, its stylesheet, and the licence.
FILES = {
    "package/dist/uPlot.esm.js": "uPlot.esm.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "LICENSE",
}
OUT = Path(__file__).resolve().parents[1] / "dashboard" / "vendor" / "uplot"


def _get(url: str) -> bytes:
    if not url.startswith(REGISTRY + "/"):
        raise SystemExit(f"refusing a URL outside the npm registry: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https, fixed host
        data: bytes = response.read()
    return data


def fetch() -> dict[str, bytes]:
    """The pinned package's files, after its tarball passed the registry's sha512 check."""
    meta = json.loads(_get(f"{REGISTRY}/{PACKAGE}/{VERSION}"))
    dist = meta["dist"]
    algorithm, _, expected_b64 = dist["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"unexpected integrity algorithm {algorithm!r}")
    tarball = _get(dist["tarball"])
    actual_b64 = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual_b64 != expected_b64:
        raise SystemExit(f"sha512 mismatch for {dist['tarball']}: {actual_b64} != {expected_b64}")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, name in FILES.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{member} missing from the tarball")
            files[name] = extracted.read()
    files["PROVENANCE"] = (
        f"{PACKAGE} {VERSION} from the npm registry\n"
        f"tarball: {dist['tarball']}\n"
        f"integrity: {dist['integrity']} (verified by scripts/fetch_vendor.py)\n"
        f"files: {', '.join(f'{k} -> {v}' for k, v in FILES.items())}\n"
        "licence: MIT (LICENSE)\n"
    ).encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args()
    files = fetch()
    if args.check:
        stale = [n for n, data in files.items() if (OUT / n).read_bytes() != data]
        if stale:
            raise SystemExit(f"vendored files differ from {PACKAGE} {VERSION}: {stale}")
        print(f"dashboard/vendor/uplot matches {PACKAGE} {VERSION}")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {OUT} ({PACKAGE} {VERSION}, sha512 verified)")


if __name__ == "__main__":
    main()
