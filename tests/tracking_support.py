"""Helpers for the dossier tracking tests: a register with homes, tag reads fed to the dashboard's store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dashboard.locations import Locations
from dashboard.register import import_csv
from dashboard.store import Store
from dashboard.users import connect
from gateway import protocol

REGISTER = (
    "档号,姓名,单位,出生年月,存放位置\n"
    "DA-2026-00001,张三,人事处,1970-01,east-stack/r1-A-1-1\n"
    "DA-2026-00002,李四,财务处,1981-05,east-stack/r1-A-1-1/box-2\n"
    "DA-2026-00003,王五,人事处,1975-11,east-stack/r1-A-1-2\n"
    "DA-2026-00004,赵六,办公室,1990-03,east-stack/r2-B-3-4\n"
    "DA-2026-00005,张珊珊,人事处,1988-08,west-stack/w1-A-2-1\n"
    "DA-2026-00006,单田芳,档案室,1934-12,nowhere/shelf\n"
)


def import_register(site, database: Path, text: str = REGISTER):
    conn = connect(database, migrate_schema=True)
    try:
        return import_csv(conn, text.encode(), "test register", locations=Locations(site))
    finally:
        conn.close()


class Reads:
    """Tag reads at the site's readers, fed to the dashboard's store as the ingest would, seq by seq."""

    def __init__(self, store: Store, site) -> None:
        self.store = store
        self.readers = {r.id: r for r in site.rfid.readers}
        self.seq = {g: 0 for g in site.gateway_ids}

    def read(self, reader: str, code: str | None, *, kind: str = "dossier", valid: bool = True, ago_s: float = 0.0,
             uid: str = "04A1B2C3") -> None:  # fmt: skip
        where = self.readers[reader]
        self.seq[where.gateway] += 1
        seq = self.seq[where.gateway]
        data = {"reader": reader, "location": where.location, "uid": uid, "valid": valid,
                "kind": kind if valid else None, "code": code if valid else None,
                "reason": None if valid else "bad_mac", "detail": ""}  # fmt: skip
        ts = protocol.utc_now() - timedelta(seconds=ago_s)
        event = protocol.Event(id=f"{where.gateway}-{seq}", seq=seq, ts=ts, kind="tag_read", device=reader,
                               message="tag", data=data)  # fmt: skip
        result = self.store.ingest(protocol.Topics("demo", where.gateway).event("tag_read"), event.to_json())
        assert result.outcome == "accepted", result
