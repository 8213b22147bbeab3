"""What durability costs: the gateway's outbox and link against plain paho-mqtt QoS 1.

Peer: paho-mqtt publishing the same messages at QoS 1 straight from memory and waiting for every PUBACK
(what a gateway without an outbox would do, losing its queue on a crash). Measured here:

- `put_per_s`: messages written to the outbox per second, with `synchronous=FULL` (survives a power cut,
  the gateway's setting) and `NORMAL` (survives a crash of the process only);
- `drain_per_s`: a backlog (as after an outage) sent through Mosquitto, each row deleted on its PUBACK;
- `live_per_s`: messages put one by one, each durable before it is sent, and delivered;
- `paho_per_s`: the peer; `drain_vs_paho` and `live_vs_paho` are the ratios (1.0 = durability is free).

A gateway produces a few messages per second, so the number that matters is the backlog after an outage:
how long hundreds of thousands of queued messages take to drain.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway import protocol
from gateway.link import Link
from gateway.outbox import Outbox
from hardware.broker import Broker, ensure_passwords
from tests.support import write_site

MESSAGES = 5000


def _payload(seq: int) -> bytes:
    return protocol.Reading(
        id=protocol.new_id(),
        seq=seq,
        ts=protocol.utc_now(),
        room="east-stack",
        sensor="dht-1",
        state="ok",
        temperature_c=20.5,
        humidity_rh=55.2,
    ).to_json()


def put_rate(folder: Path, synchronous: str) -> float:
    box = Outbox(folder / f"put-{synchronous}.db", synchronous=synchronous)
    start = time.perf_counter()
    for _ in range(MESSAGES):
        box.put("storeroom/demo/gw-east/telemetry/east-stack/dht-1", _payload)
    elapsed = time.perf_counter() - start
    box.close()
    return MESSAGES / elapsed


def _link(box: Outbox, topics: protocol.Topics, broker: Broker) -> Link:
    """The gateway's link for gw-east, as the daemon builds it."""
    password = broker.password("gw-east")
    return Link(outbox=box, topics=topics, host=broker.host, port=broker.port, username="gw-east", password=password)


def drain_rate(folder: Path, broker: Broker) -> float:
    """A backlog of MESSAGES queued during an outage, drained through Mosquitto once it is back."""
    box = Outbox(folder / "drain.db")
    topics = protocol.Topics("demo", "gw-east")
    for _ in range(MESSAGES):
        box.put(topics.telemetry("east-stack", "dht-1"), _payload)
    link = _link(box, topics, broker)
    start = time.perf_counter()
    link.start()
    while box.pending():
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    link.stop()
    box.close()
    return MESSAGES / elapsed


def live_rate(folder: Path, broker: Broker) -> float:
    """Messages put one by one (each durable before it is sent) and delivered, as a busy gateway does."""
    box = Outbox(folder / "live.db")
    topics = protocol.Topics("demo", "gw-east")
    link = _link(box, topics, broker)
    link.start()
    assert link.wait_connected(10), "gateway link did not connect"
    start = time.perf_counter()
    for _ in range(MESSAGES):
        box.put(topics.telemetry("east-stack", "dht-1"), _payload)
        link.notify()
    while box.pending():
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    link.stop()
    box.close()
    return MESSAGES / elapsed


def paho_rate(broker: Broker) -> float:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="gw-east")
    client.username_pw_set("gw-east", broker.password("gw-east"))
    client.max_inflight_messages_set(100)
    done = threading.Event()
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == MESSAGES:
            done.set()

    client.on_publish = on_publish
    client.connect(broker.host, broker.port)
    client.loop_start()
    topic = protocol.Topics("demo", "gw-east").telemetry("east-stack", "dht-1")
    start = time.perf_counter()
    for seq in range(1, MESSAGES + 1):
        client.publish(topic, _payload(seq), qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return MESSAGES / elapsed


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site_path = write_site(folder)
        from hardware.config import load

        site = load(site_path)
        ensure_passwords(site)
        with Broker(site, port=0) as broker:
            broker.start()
            results = {
                "messages": MESSAGES,
                "put_per_s_full": round(put_rate(folder, "FULL")),
                "put_per_s_normal": round(put_rate(folder, "NORMAL")),
                "drain_per_s": round(drain_rate(folder, broker)),
                "live_per_s": round(live_rate(folder, broker)),
                "paho_per_s": round(paho_rate(broker)),
            }
    results["drain_vs_paho"] = round(results["drain_per_s"] / results["paho_per_s"], 2)
    results["live_vs_paho"] = round(results["live_per_s"] / results["paho_per_s"], 2)
    return results
