"""`storeroom rfid ...`: what to write on a tag, and what a tag's bytes say.

    storeroom rfid encode A001-2026-00042 --kind dossier --uid 04A1B2C3
    storeroom rfid decode --uid 04A1B2C3 5352010101...
    storeroom rfid enroll A001-2026-00042 --reader desk
    storeroom rfid enroll --csv dossiers.csv --reader desk

Both sign and check with the site's RFID keys (`<secrets>/rfid-<id>.key`, created on first use), from
`--config` (the demo site's by default). `decode` prints the tag as JSON, or one line saying why the bytes
are not a valid tag and exits 2; never a traceback, whatever the bytes.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hardware import spreadsheet
from hardware.config import DEMO_CONFIG
from hardware.config_cli import load_or_exit
from rfid import keys, media, tagformat

if TYPE_CHECKING:
    from hardware.config import SiteConfig
    from rfid.service import OpenedReader


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


# -- enrolment ------------------------------------------------------------------------------------

WAIT_STEP_S = 0.2


def _open_reader(site: SiteConfig, reader_id: str | None) -> OpenedReader:
    from rfid.service import ReaderError, open_readers

    configs = site.rfid.readers
    if not configs:
        fail("the site config has no [[rfid.readers]]")
    chosen = next((r for r in configs if r.id == reader_id), None) if reader_id else configs[0]
    if chosen is None:
        fail(f"no reader {reader_id!r} in the config (has {', '.join(r.id for r in configs)})")
    try:
        return next(r for r in open_readers(site, chosen.gateway) if r.config.id == chosen.id)
    except (ReaderError, keys.RfidKeyError) as exc:
        fail(str(exc))


def _lay_blank(opened: OpenedReader, rng: random.Random) -> None:
    """On the simulated board nobody can lay a tag on the reader: the command lays a blank one itself."""
    from rfid.cards import blank_card

    assert opened.field is not None
    for card in list(opened.field.cards):
        opened.field.leave(card)
    opened.field.enter(blank_card(rng, ntag=rng.random() < 0.5))


def _wait_for_tag(opened: OpenedReader, wait_s: float) -> bool:
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        uid, _ = opened.reader.select()
        if uid is not None:
            opened.reader.halt()
            return True
        time.sleep(WAIT_STEP_S)
    return False


def _read_rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, code, kind) of a CSV with a `code` column and an optional `kind`; UTF-8 (with or without BOM)
    or GB18030, as registers come out of Chinese spreadsheets."""
    try:
        text, _ = spreadsheet.decode(path.read_bytes())
    except ValueError as exc:
        fail(f"{path}: {exc}")
    reader = csv.DictReader(io.StringIO(text))
    if "code" not in (reader.fieldnames or []):
        fail(f"{path}: the CSV needs a `code` column (has {', '.join(reader.fieldnames or [])})")
    return [
        (reader.line_num, (row.get("code") or "").strip(), (row.get("kind") or "dossier").strip()) for row in reader
    ]


@rfid.command()
@click.argument("code", required=False)
@click.option("--kind", type=click.Choice(list(tagformat.KINDS)), default="dossier", show_default=True)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Enrol a batch: a CSV with a `code` column (and optionally `kind`); resumes where it stopped.",
)
@click.option("--reader", "reader_id", help="The reader's id in the config (default: the first).")
@click.option("--force", is_flag=True, help="Overwrite a tag that holds another valid code.")
@click.option("--wait", "wait_s", type=click.FloatRange(0.5, 600), default=30.0, show_default=True)
@config_option
def enroll(
    code: str | None,
    kind: str,
    csv_path: Path | None,
    reader_id: str | None,
    force: bool,
    wait_s: float,
    config_path: Path,
) -> None:
    """Write CODE (or every code of --csv) onto the tag laid on the reader, and read it back to verify."""
    from rfid.enrol import EnrolError, Enrolled, enrol

    if (code is None) == (csv_path is None):
        fail("give either a CODE or --csv FILE")
    site = load_or_exit(config_path)
    opened = _open_reader(site, reader_id)
    simulated = site.hardware.backend == "sim"
    key_id, key = keys.signing_key(site)
    rng = random.Random()

    def one(code: str, kind: str) -> Enrolled:
        if simulated:
            _lay_blank(opened, rng)
        elif not _wait_for_tag(opened, wait_s):
            raise EnrolError(f"no tag laid on reader {opened.config.id} within {wait_s:g} s")
        return enrol(opened.reader, code, kind, key_id, key, force=force)  # type: ignore[arg-type]

    def said(done: Enrolled) -> str:
        if done.unchanged:
            return f"{done.code}: tag {done.uid} already holds it"
        replaced = f", replacing {done.replaced}" if done.replaced else ""
        return f"enrolled {done.kind} {done.code} on tag {done.uid} ({done.media}){replaced}"

    if code is not None:
        try:
            click.echo(said(one(code, kind)))
        except (EnrolError, tagformat.TagError) as exc:
            fail(f"not enrolled: {exc}")
        return

    assert csv_path is not None
    progress = csv_path.with_name(csv_path.name + ".enrolled")
    done_codes = set()
    if progress.exists():
        done_codes = {line.split(",", 1)[0] for line in progress.read_text(encoding="utf-8").splitlines() if line}
    rows = _read_rows(csv_path)
    todo = [r for r in rows if r[1] not in done_codes]
    click.echo(f"{len(rows)} rows, {len(rows) - len(todo)} enrolled before, {len(todo)} to do", err=True)
    refused = 0
    with (
        progress.open("a", encoding="utf-8") as log,
        click.progressbar(todo, label="enrolling", file=sys.stderr if sys.stderr.isatty() else io.StringIO()) as bar,
    ):
        for line, row_code, row_kind in bar:
            if row_kind not in tagformat.KINDS:
                click.echo(f"line {line}: kind {row_kind!r} is not one of {', '.join(tagformat.KINDS)}", err=True)
                refused += 1
                continue
            try:
                tagformat.check_code(row_code)
            except tagformat.TagError as exc:
                click.echo(f"line {line}: {exc}", err=True)
                refused += 1
                continue
            try:
                done = one(row_code, row_kind)
            except (EnrolError, tagformat.TagError) as exc:
                fail(f"line {line} ({row_code}): not enrolled: {exc}. Run the same command again to go on from here.")
            log.write(f"{done.code},{done.uid}\n")
            log.flush()
    click.echo(f"{len(todo) - refused} enrolled, {refused} rows refused (see above); progress in {progress}")
