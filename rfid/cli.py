"""`storeroom rfid ...`: what to write on a tag, and what a tag's bytes say.

    storeroom rfid encode A001-2026-00042 --kind dossier --uid 04A1B2C3
    storeroom rfid decode --uid 04A1B2C3 5352010101...

Both sign and check with the site's RFID keys (`<secrets>/rfid-<id>.key`, created on first use), from
`--config` (the demo site's by default). `decode` prints the tag as JSON, or one line saying why the bytes
are not a valid tag and exits 2; never a traceback, whatever the bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from hardware.config import DEMO_CONFIG
from hardware.config_cli import load_or_exit
from rfid import keys, media, tagformat


def fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(2)


def parse_hex(what: str, text: str) -> bytes:
    cleaned = "".join(text.split()).replace(":", "").replace("-", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        fail(f"invalid tag: {what} {text[:40]!r} is not hexadecimal")


config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=DEMO_CONFIG, show_default=True
)


@click.group()
def rfid() -> None:
    """RFID tags: encode what to write, decode what was read (docs/TAGS.md)."""


@rfid.command()
@click.argument("code")
@click.option("--kind", type=click.Choice(list(tagformat.KINDS)), default="dossier", show_default=True)
@click.option("--uid", "uid_hex", required=True, help="The tag's UID in hex: 4 bytes (Classic) or 7 (NTAG).")
@click.option("--media", "media_name", type=click.Choice(media.MEDIA), help="Default: by the UID's size.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
@config_option
def encode(code: str, kind: str, uid_hex: str, media_name: str | None, as_json: bool, config_path: Path) -> None:
    """The blocks or pages to write for CODE on the tag with this UID, in order (the lock last)."""
    site = load_or_exit(config_path)
    uid = parse_hex("UID", uid_hex)
    try:
        key_id, key = keys.signing_key(site)
        payload = tagformat.encode(kind, code, uid, key_id, key)  # type: ignore[arg-type]
        chosen = media_name or media.media_for(uid)
        writes = media.plan(payload, uid, chosen, key)  # type: ignore[arg-type]
    except (tagformat.TagError, ValueError, keys.RfidKeyError) as exc:
        fail(f"cannot encode: {exc}")
    unit = "block" if chosen == "classic1k" else "page"
    if as_json:
        click.echo(
            json.dumps(
                {
                    "media": chosen,
                    "uid": uid.hex().upper(),
                    "key_id": key_id,
                    "payload": payload.hex().upper(),
                    "writes": [{unit: w.address, "data": w.data.hex().upper(), "note": w.note} for w in writes],
                },
                ensure_ascii=False,
            )
        )
        return
    for write in writes:
        click.echo(f"{unit} {write.address:3d}: {write.data.hex().upper()}  {write.note}".rstrip())


@rfid.command()
@click.argument("data_hex")
@click.option("--uid", "uid_hex", required=True, help="The UID of the tag the data was read from, in hex.")
@config_option
def decode(data_hex: str, uid_hex: str, config_path: Path) -> None:
    """DATA_HEX (read from the first user block or page on) as a tag, checked against the site's keys."""
    site = load_or_exit(config_path)
    uid, data = parse_hex("UID", uid_hex), parse_hex("data", data_hex)
    try:
        tag = tagformat.decode(uid, data, keys.site_keys(site))
    except tagformat.TagError as exc:
        fail(f"invalid tag: {exc.reason}: {exc}")
    except keys.RfidKeyError as exc:
        fail(f"cannot check tags: {exc}")
    click.echo(json.dumps(tag.as_dict(), ensure_ascii=False))
