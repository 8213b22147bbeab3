"""`storeroom dashboard ...`: serve the dashboard."""

from __future__ import annotations

import logging

import click

from hardware.config_cli import load_or_exit


def _host_port(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=option)
    return host.strip("[]"), int(port)


@click.group()
def dashboard() -> None:
    """The web dashboard on the central server."""


@dashboard.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Site config (TOML).")
@click.option("--broker", help="Broker as HOST:PORT (default: the config's broker).")
@click.option("--listen", help="Serve on HOST:PORT (default: the config's dashboard.listen).")
@click.option("-v", "--verbose", is_flag=True, help="Log in more detail (debug level).")
def serve(config_path: str, broker: str | None, listen: str | None, verbose: bool) -> None:
    """Serve the dashboard and fill its database from the broker, until SIGTERM or Ctrl-C.

    The broker password of the "dashboard" account is read from the site's secrets folder.

    Example: storeroom dashboard serve --config hardware/configs/demo.toml --listen 127.0.0.1:8080
    """
    from dashboard.serve import serve as run
    from hardware.broker import BrokerError, read_password

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    site = load_or_exit(config_path)
    host, port = _host_port(listen or site.dashboard.listen, "--listen")
    broker_host, broker_port = _host_port(broker, "--broker") if broker else (site.broker.host, site.broker.port)
    try:
        password = read_password(site, "dashboard")
    except BrokerError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(2) from None
    try:
        run(site, host=host, port=port, broker_host=broker_host, broker_port=broker_port, password=password)
    except OSError as exc:  # cannot listen, or cannot create the database
        click.echo(f"dashboard: {exc}", err=True)
        raise SystemExit(1) from None


config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Site config (TOML)."
)


def _people(config_path: str):
    from dashboard.users import connect

    site = load_or_exit(config_path)
    return connect(site.dashboard_database, migrate_schema=True)


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return click.get_text_stream("stdin").readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@dashboard.group()
def user() -> None:
    """Dashboard users and their roles (keeper, facilities, archivist, auditor, admin)."""


def _user_command(action):
    """Run a user change, audit it, and turn a UserError into one line on stderr and exit 1."""
    from dashboard.audit import record
    from dashboard.users import UserError, Users

    def run(config_path: str, name: str, detail: dict, change) -> None:
        conn = _people(config_path)
        try:
            change(Users(conn))
        except UserError as exc:
            click.echo(f"storeroom: {exc}", err=True)
            raise SystemExit(1) from None
        record(conn, actor=_cli_actor(), action=action, obj=name, detail=detail)
        conn.close()

    return run


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, help="keeper, facilities, archivist, auditor or admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@config_option
def user_add(name: str, role: str, password_stdin: bool, config_path: str) -> None:
    """Add a user.

    Example: echo 'a long passphrase' | storeroom dashboard user add wang --role keeper --password-stdin
    --config hardware/configs/demo.toml
    """
    password = _password(password_stdin)
    _user_command("user_added")(config_path, name, {"role": role}, lambda users: users.add(name, role, password))
    click.echo(f"user {name} added ({role})")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@config_option
def user_passwd(name: str, password_stdin: bool, config_path: str) -> None:
    """Set a user's password.

    Example: storeroom dashboard user passwd wang --config hardware/configs/demo.toml
    """
    password = _password(password_stdin)
    _user_command("user_password")(config_path, name, {}, lambda users: users.set_password(name, password))
    click.echo(f"password of {name} changed")


@user.command("disable")
@click.argument("name")
@config_option
def user_disable(name: str, config_path: str) -> None:
    """Disable a user: no more logins, API tokens revoked, and their badges refused at the doors.

    Example: storeroom dashboard user disable wang --config hardware/configs/demo.toml
    """
    _set_disabled(config_path, name, True)


@user.command("enable")
@click.argument("name")
@config_option
def user_enable(name: str, config_path: str) -> None:
    """Enable a disabled user again (their badges open the doors they are granted again).

    Example: storeroom dashboard user enable wang --config hardware/configs/demo.toml
    """
    _set_disabled(config_path, name, False)


def _set_disabled(config_path: str, name: str, disabled: bool) -> None:
    action = "user_disable" if disabled else "user_enable"
    _user_command(action)(config_path, name, {}, lambda users: users.set_disabled(name, disabled))
    click.echo(f"user {name} {'disabled' if disabled else 'enabled'}")
    _publish_doors(config_path, name, action)


def _publish_doors(config_path: str, name: str, cause: str) -> None:
    """A staff badge holder's user changed: send the gateways the next permission document at once, as the users
    page does, so the doors refuse (or admit) the badges without anyone pressing Publish. Exit 1 if it could
    not be sent (the change itself is made; the next publication carries it)."""
    import secrets

    from paho.mqtt import publish as mqtt_publish
    from paho.mqtt.exception import MQTTException

    from dashboard import permissions
    from dashboard.audit import record
    from gateway.protocol import Topics
    from hardware.broker import BrokerError, read_password

    site = load_or_exit(config_path)
    conn = _people(config_path)
    try:
        gateways = permissions.door_gateways(site)
        if not gateways or not permissions.is_holder(conn, name):
            return
        document = permissions.issue(conn, site, _cli_actor())
        payload = document.to_json()
        messages = [
            {"topic": Topics(site.site.id, g).permissions, "payload": payload, "qos": 1, "retain": True}
            for g in gateways
        ]
        failed: list[str] = []
        try:  # paho's one-shot publisher: connect, send, wait for the broker's acknowledgements, disconnect
            mqtt_publish.multiple(
                messages,
                hostname=site.broker.host,
                port=site.broker.port,
                client_id=f"storeroom-cli-{secrets.token_hex(4)}",  # never the running dashboard's own id
                auth={"username": "dashboard", "password": read_password(site, "dashboard")},
            )
        except (OSError, BrokerError, MQTTException) as exc:
            failed = gateways
            click.echo(
                f"storeroom: permission document version {document.version} kept but not sent "
                f"({site.broker.host}:{site.broker.port}: {exc}); {name}'s badges still work at the doors "
                "until it is published (the doors page's Publish button)",
                err=True,
            )
        record(conn, actor=_cli_actor(), action="access_published", obj="doors/permissions",
               detail={"version": document.version, "holders": len(document.holders),
                       "unreached": ",".join(failed), "cause": f"{cause}:{name}"})  # fmt: skip
        if failed:
            raise SystemExit(1)
        click.echo(f"permission document version {document.version} sent to the gateways")
    finally:
        conn.close()


@user.command("list")
@config_option
def user_list(config_path: str) -> None:
    """List users with their roles.

    Example: storeroom dashboard user list --config hardware/configs/demo.toml
    """
    from dashboard.users import Users

    for one in Users(_people(config_path)).all():
        click.echo(f"{one.name}\t{one.role}\t{'disabled' if one.disabled else 'active'}")


@user.command("token")
@click.argument("name")
@config_option
def user_token(name: str, config_path: str) -> None:
    """Make a read-only API token for a user and print it once (send it as `Authorization: Bearer ...`).

    Example: storeroom dashboard user token wang --config hardware/configs/demo.toml
    """
    tokens: list[str] = []
    _user_command("token_created")(
        config_path, name, {"scope": "read"}, lambda users: tokens.append(users.new_token(name))
    )
    click.echo(tokens[0])


@dashboard.group()
def register() -> None:
    """The dossier register (code, name, unit and catalogue fields), imported from CSV."""


@register.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help="Check the file and report, without changing the register.")
@config_option
def register_import(csv_file: str, dry_run: bool, config_path: str) -> None:
    """Add and update dossiers from CSV_FILE (UTF-8 or GB18030; columns code/档号, name/姓名, unit/单位, ...).

    Rows that cannot be imported are listed with their line and reason; the others are imported.

    Example: storeroom dashboard register import register.csv --config hardware/configs/demo.toml
    """
    from pathlib import Path

    from dashboard.audit import record
    from dashboard.locations import Locations
    from dashboard.register import RegisterError, import_csv

    conn = _people(config_path)
    places = Locations(load_or_exit(config_path))
    try:
        report = import_csv(conn, Path(csv_file).read_bytes(), Path(csv_file).name, dry_run=dry_run, locations=places)
    except RegisterError as exc:
        click.echo(f"{csv_file}: {exc}", err=True)
        raise SystemExit(2) from None
    if not dry_run:
        counts = {k: v for k, v in report.as_dict().items() if k != "refused"} | {"refused": len(report.refused)}
        record(conn, actor=_cli_actor(), action="register_import", obj=Path(csv_file).name, detail=counts)
    conn.close()
    for row in report.refused:
        click.echo(f"line {row['line']}: {row['reason']}", err=True)
    for row in report.unplaced:
        click.echo(f"line {row['line']}: {row['code']} imported without a home: {row['reason']}", err=True)
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{verb} {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"refused {len(report.refused)} ({report.encoding})"
    )


@dashboard.command("locations")
@config_option
def locations_list(config_path: str) -> None:
    """Print the site's locations (rooms, shelf rows, shelves, desk, doors, copy stand) as a CSV of `code,kind`:
    the codes their location tags carry, ready for `storeroom rfid enroll --csv` (kind location).

    Example: storeroom dashboard locations --config hardware/configs/demo.toml > locations.csv
    """
    from dashboard.locations import Locations

    places = Locations(load_or_exit(config_path))
    click.echo("code,kind,place")
    for place in places.by_code.values():
        if place.kind != "site":
            click.echo(f"{place.code},location,{place.kind}")


@register.command("reindex")
@config_option
def register_reindex(config_path: str) -> None:
    """Rebuild the search keys of every dossier (after an upgrade from a version without search).

    Example: storeroom dashboard register reindex --config hardware/configs/demo.toml
    """
    from dashboard.dossier_search import reindex_all

    conn = _people(config_path)
    count = reindex_all(conn)
    conn.close()
    click.echo(f"{count} dossiers indexed")


@register.command("next-code")
@click.option("--unit", required=True, help="The unit (单位) code that goes into the pattern's {unit}.")
@click.option("--year", type=int, help="The year for {year} (default: this year).")
@config_option
def register_next_code(unit: str, year: int | None, config_path: str) -> None:
    """Print the next free dossier code from the site's tracking.code_pattern.

    Example: storeroom dashboard register next-code --unit A01 --config hardware/configs/demo.toml
    """
    from datetime import date

    from dashboard.codes import CodeError, next_code

    site = load_or_exit(config_path)
    conn = _people(config_path)
    try:
        click.echo(next_code(conn, site.tracking.code_pattern, unit=unit, year=year or date.today().year))
    except CodeError as exc:
        click.echo(f"storeroom: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        conn.close()


@user.command("link")
@click.argument("name")
@click.argument("code")
@click.option("--relation", default="self", show_default=True,
              help="self, spouse, parent, child, sibling or relative.")  # fmt: skip
@click.option("--remove", is_flag=True, help="Remove the link instead.")
@config_option
def user_link(name: str, code: str, relation: str, remove: bool, config_path: str) -> None:
    """Link a user to a person record (dossier) of the register: they will never see or request it.

    Example: storeroom dashboard user link wang DA-2026-00007 --relation spouse --config hardware/configs/demo.toml
    """
    from dashboard import relations
    from dashboard.audit import record
    from dashboard.users import UserError, Users

    conn = _people(config_path)
    try:
        found = Users(conn).get(name)
        if remove:
            relations.unlink(conn, user_id=found.id, code=code)
        else:
            relations.link(conn, user_id=found.id, code=code, relation=relation, by=_cli_actor())
    except (relations.RelationError, UserError) as exc:
        click.echo(f"storeroom: {exc}", err=True)
        raise SystemExit(1) from None
    record(conn, actor=_cli_actor(), action="person_unlinked" if remove else "person_linked", obj=name,
           detail={"code": code, "relation": relation})  # fmt: skip
    conn.close()
    click.echo(f"{name}: {'unlinked from' if remove else relation + ' of'} {code}")


@dashboard.group()
def pages() -> None:
    """Dossier pages from the copy stands: the files the dashboard keeps."""


@pages.command("verify")
@config_option
def pages_verify(config_path: str) -> None:
    """Hash every page file the dashboard keeps against its name, and count the files still on their way.

    Exits 1 if a file no longer has the SHA-256 it was stored under (altered or damaged on disk), naming it
    and the pages it belongs to.

    Example: storeroom dashboard pages verify --config hardware/configs/demo.toml
    """
    import json
    import sqlite3

    from dashboard.page_files import PageFiles

    site = load_or_exit(config_path)
    files = PageFiles(site.pages_store)
    owners: dict[str, list[str]] = {}
    if site.dashboard_database.exists():
        with sqlite3.connect(f"file:{site.dashboard_database}?mode=ro", uri=True, timeout=10) as db:
            for dossier, page, listed in db.execute("SELECT dossier, page, files FROM pages ORDER BY dossier, page"):
                for kind, ref in json.loads(listed).items():
                    owners.setdefault(ref["sha256"], []).append(f"{dossier} page {page} {kind}")
            for dossier, listed in db.execute("SELECT dossier, files FROM dossier_scans ORDER BY dossier"):
                for kind, ref in json.loads(listed).items():
                    owners.setdefault(ref["sha256"], []).append(f"{dossier} {kind}")
    intact = altered = 0
    for name, found in files.verify():
        if found is None:
            intact += 1
            continue
        altered += 1
        belongs = "; ".join(owners.get(name, [])) or "no page names it"
        click.echo(f"ALTERED {name}: its content has SHA-256 {found} ({belongs})")
    waiting = sum(1 for sha in owners if not files.has(sha))
    click.echo(
        f"{intact} file(s) intact, {altered} altered, {waiting} named by pages but not uploaded yet ({files.root})"
    )
    if altered:
        raise SystemExit(1)


@dashboard.command("report")
@click.option(
    "--period",
    type=click.Choice(["day", "week"]),
    default="day",
    show_default=True,
    help="Yesterday, or the seven days before today (whole days in the site's time zone).",
)
@click.option(
    "--end", "end", type=click.DateTime(["%Y-%m-%d"]), help="The local date the period ends before (default: today)."
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(["zh_CN", "en"]),
    help="The report's language (default: the --user's choice, else the site's).",
)
@click.option("--user", "user_name", help="A dashboard user whose language the report takes.")
@click.option("--to", "to", required=True, help="The recipient's e-mail address.")
@click.option("--smtp", help="Send through this SMTP server, HOST:PORT (default: the config's reports.smtp).")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write the e-mail to this .eml file instead.")
@config_option
def report(period: str, end, language: str | None, user_name: str | None, to: str, smtp: str | None,
           out: str | None, config_path: str) -> None:  # fmt: skip
    """Make the daily or weekly report (climate per room, alerts, gateways offline, dossiers digitized,
    stocktakes) as an e-mail in the recipient's language; write it to --out, or send it. Audited.

    The SMTP account, if the server needs one, is read from `<secrets>/smtp.user` and `smtp.password`.

    Example: storeroom dashboard report --period week --lang zh_CN --to keeper@example.org --out week.eml
    --config hardware/configs/demo.toml
    """
    import re
    from pathlib import Path

    from dashboard import report as reports
    from dashboard.audit import record
    from dashboard.users import UserError, Users

    if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", to):
        raise click.BadParameter(f"{to!r} is not one e-mail address", param_hint="--to")
    site = load_or_exit(config_path)
    conn = _people(config_path)
    if language is None and user_name:
        try:
            language = Users(conn).language(Users(conn).get(user_name).id)
        except UserError as exc:
            click.echo(f"storeroom: {exc}", err=True)
            raise SystemExit(1) from None
    language = language or site.dashboard.language
    span = reports.Period.of(period, site.site.timezone, end.date() if end else None)
    message = reports.render(reports.gather(conn, site, span), language=language, sender=site.reports.sender, to=to)
    where = out or f"smtp://{smtp or site.reports.smtp}"
    if out:
        Path(out).write_bytes(bytes(message))
    else:
        host, port = _host_port(smtp or site.reports.smtp, "--smtp")
        try:
            reports.send(message, host=host, port=port, starttls=site.reports.starttls,
                         secrets=site.storage.secrets, timeout_s=site.reports.timeout_s)  # fmt: skip
        except reports.MailError as exc:
            click.echo(f"storeroom: {exc}", err=True)
            raise SystemExit(1) from None
    record(conn, actor=_cli_actor(), action="report_generated", obj=f"report/{period}/{span.since}",
           detail={"period": period, "start": span.since, "end": span.until, "language": language, "to": to,
                   "delivered": where})  # fmt: skip
    conn.close()
    click.echo(f"{period} report {span.since} .. {span.until} ({language}) for {to}: {where}")


@click.group()
def audit() -> None:
    """The dashboard's tamper-evident audit trail."""


@audit.command("verify")
@config_option
def audit_verify(config_path: str) -> None:
    """Check the whole hash chain; exit 1 naming the first bad row.

    Example: storeroom audit verify --config hardware/configs/demo.toml
    """
    from dashboard import audit_anchor
    from dashboard.audit import verify

    conn = _people(config_path)
    verdict = verify(conn)
    if not verdict.ok:
        click.echo(f"audit trail broken at row {verdict.first_bad}: {verdict.reason}", err=True)
        raise SystemExit(1)
    path = audit_anchor.anchors_file(load_or_exit(config_path))
    last = audit_anchor.latest(path)
    cut = audit_anchor.check(conn, last) if last else None
    if cut:
        click.echo(f"audit trail broken: {cut} ({path})", err=True)
        raise SystemExit(1)
    held = f", up to the anchor of row {last.id} ({last.at})" if last else "; no anchor yet (storeroom audit anchor)"
    click.echo(f"audit trail intact: {verdict.rows} rows checked{held}")


@audit.command("anchor")
@config_option
def audit_anchor_command(config_path: str) -> None:
    """Write the trail's head (last row's id and hash) to the append-only anchors file in the secrets folder,
    so that `audit verify` can tell when the newest rows are cut off. The dashboard does it every minute.

    Example: storeroom audit anchor --config hardware/configs/demo.toml
    """
    from dashboard import audit_anchor

    conn = _people(config_path)
    path = audit_anchor.anchors_file(load_or_exit(config_path))
    written = audit_anchor.anchor(conn, path)
    if written is None:
        click.echo("the audit trail is empty: nothing to anchor")
        return
    click.echo(f"audit head anchored: row {written.id} {written.hash} ({path})")
