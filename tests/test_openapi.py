"""docs/openapi.yaml is the API's contract: a valid OpenAPI 3.1 document that the running app keeps.

Every /api route is documented, every documented path exists, and every answer the app gives on a
database with readings, gaps, alerts, refusals and commands validates against its schema.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from dashboard import commands
from dashboard.app import create_app
from dashboard.store import Store
from dashboard.users import connect
from gateway import protocol
from tests.support import add_user, login

SPEC = yaml.safe_load((Path(__file__).parents[1] / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
EAST = protocol.Topics("demo", "gw-east")


@pytest.fixture
def app(site):
    app = create_app(site, publish=lambda topic, payload: True)
    add_user(app.config["DATABASE"], "fatima", "facilities")
    with Store(app.config["DATABASE"]) as store:
        now = protocol.utc_now()
        store.ingest(EAST.status, protocol.Status(state="online", session=1).to_json())
        room = protocol.RoomState(
            id="east-stack",
            name="East",
            sensors=["dht-1"],
            relays=[protocol.RelayState(id="dehum-1", kind="dehumidifier", on=True)],
            doors=[protocol.DoorState(id="main-door", open=False)],
            humidity_band=(45.0, 60.0),
        )
        store.ingest(EAST.birth, protocol.Birth(id="b", seq=1, ts=now, session=1, rooms=[room]).to_json())
        reading = protocol.Reading(
            id="r", seq=3, ts=now, room="east-stack", sensor="dht-1", state="ok", temperature_c=20.0, humidity_rh=50.0
        )
        store.ingest(EAST.telemetry("east-stack", "dht-1"), reading.to_json())
        relay = protocol.Event(
            id="q", seq=2, ts=now, kind="relay", room="east-stack", device="dehum-1", data={"on": True}
        )
        store.ingest(EAST.event("relay"), relay.to_json())
        scan = protocol.Event(
            id="t", seq=5, ts=now, kind="tag_read", device="east-shelf",
            data={"reader": "east-shelf", "location": "east-stack/shelf-1", "uid": "04A1B2C3", "valid": False,
                  "kind": None, "code": None, "reason": "bad_mac", "detail": "copied"},
        )  # fmt: skip
        store.ingest(EAST.event("tag_read"), scan.to_json())
        error = protocol.Event(
            id="e", seq=4, ts=now, kind="device_error", severity="warning", room="east-stack", device="dht-1"
        )
        store.ingest(EAST.event("device_error"), error.to_json())
        store.ingest("storeroom/demo/gw-east/nonsense", b"{}")
    conn = connect(app.config["DATABASE"])
    commands.send(
        conn,
        lambda topic, payload: True,
        site="demo",
        gateway="gw-east",
        name="set_band",
        args={"room": "east-stack", "low": 45.0, "high": 58.0},
        by="fatima",
    )
    conn.close()
    return app


def schema_of(path: str, status: str, media: str = "application/json") -> dict:
    response = SPEC["paths"][path]["get"]["responses"][status]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    # Refs in the spec point at #/components/...: give the schema the components to resolve them.
    return {**response["content"][media]["schema"], "components": SPEC["components"]}


def test_the_document_is_valid_openapi():
    validate(SPEC)


def test_every_api_route_is_documented_and_every_documented_path_exists(app):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert routes == set(SPEC["paths"])


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/api/rooms", "/api/rooms"),
        ("/api/rooms/{room_id}/history", "/api/rooms/east-stack/history?period=7d"),
        ("/api/rooms/{room_id}/climate", "/api/rooms/east-stack/climate?period=30d"),
        ("/api/scans", "/api/scans"),
        ("/api/gateways", "/api/gateways"),
        ("/api/alerts", "/api/alerts"),
        ("/api/commands", "/api/commands"),
        ("/api/ingest", "/api/ingest"),
    ],
)
def test_answers_follow_the_document(app, path, url):
    client = app.test_client()
    assert client.get(url).status_code == 401
    jsonschema.validate(client.get(url).json, schema_of(path, "401"))
    login(client, "fatima")
    answer = client.get(url)
    assert answer.status_code == 200
    jsonschema.validate(answer.json, schema_of(path, "200"))


def test_a_bad_period_is_a_documented_400(app):
    client = app.test_client()
    login(client, "fatima")
    answer = client.get("/api/rooms/east-stack/history?period=1y")
    assert answer.status_code == 400
    jsonschema.validate(answer.json, schema_of("/api/rooms/{room_id}/history", "400"))
