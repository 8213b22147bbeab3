"""The gateway's link to the broker: sends the outbox in seq order at QoS 1, forgets a message on PUBACK.

Design choices, each for a failure seen in the field:
- One thread owns the paho client and calls `loop()` itself, so PUBACKs, sends and reconnects happen in
  one place, with no callback racing a publish.
- A new paho client for every connection. paho would otherwise replay its in-memory queue on reconnect,
  beside the outbox's own resend, and the Will must carry the new session number anyway.
- `status` is retained: `online` on connect, `offline` as the Last Will, both with a session counter
  that rises on every connect (as Sparkplug's bdSeq), so a late Will of an older connection, which the
  broker may deliver after the new `online`, is recognisably stale.
- After a reconnect the backlog goes out oldest first and says `historical: true`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway import protocol
from gateway.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class LinkStats:
    connects: int = 0
    sent: int = 0
    delivered: int = 0
    historical: int = 0
    commands_refused: int = 0


class Link:
    """Keeps a gateway connected and its outbox flowing. `start()` it once; `stop()` on shutdown."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        topics: protocol.Topics,
        host: str,
        port: int,
        username: str,
        password: str,
        keepalive: int = 15,
        now: Callable[[], datetime] = protocol.utc_now,
        on_session: Callable[[int], None] | None = None,
        on_command: Callable[[protocol.Message], None] | None = None,
        window: int = 100,
        backoff: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        self.outbox = outbox
        self.topics = topics
        self.host, self.port = host, port
        self._credentials = (username, password)
        self._keepalive = keepalive
        self._now = now
        self._on_session = on_session
        self._on_command = on_command
        self._window = window
        self._backoff = backoff
        self.stats = LinkStats()
        self.session = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_timeout = 3.0

    # -- public -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Something was put in the outbox: send it now rather than at the next poll."""
        self._wake.set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, drain_timeout: float = 3.0) -> None:
        """Send what can be sent within `drain_timeout`, say `offline`, disconnect cleanly."""
        self._drain_timeout = drain_timeout
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(drain_timeout + 5)

    # -- the link thread ----------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping.is_set():
            client = self._new_client()
            try:
                client.connect(self.host, self.port, keepalive=self._keepalive)
            except OSError as exc:
                log.warning("broker %s:%s unreachable (%s); retrying in %.1f s", self.host, self.port, exc, delay)
            else:
                if self._session(client):
                    delay = self._backoff[0]
            finally:
                self._connected.clear()
            if self._stopping.wait(delay * random.uniform(0.8, 1.2)):
                break
            delay = min(delay * 2, self._backoff[1])

    def _new_client(self) -> mqtt.Client:
        self.session = self.outbox.next_session()
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._credentials[0],
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(*self._credentials)
        client.will_set(self.topics.status, self._status("offline"), qos=1, retain=True)
        client.max_inflight_messages_set(self._window)
        client.max_queued_messages_set(0)
        return client

    def _status(self, state: str) -> bytes:
        return protocol.Status(state=state, session=self.session, ts=self._now()).to_json()

    def _session(self, client: mqtt.Client) -> bool:
        """Run one connection until it drops or we stop. True if it got as far as CONNACK."""
        acked: list[int] = []
        outcome: dict[str, object] = {}

        def on_connect(_c, _u, _flags, reason, _props) -> None:
            outcome["connack"] = reason

        def on_disconnect(_c, _u, _flags, reason, _props) -> None:
            outcome["lost"] = reason
            self._connected.clear()

        def on_publish(_c, _u, mid, _reason, _props) -> None:
            acked.append(mid)

        client.on_connect, client.on_disconnect, client.on_publish = on_connect, on_disconnect, on_publish
        client.on_message = self._command

        while "connack" not in outcome and "lost" not in outcome and not self._stopping.is_set():
            if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS:
                break
        reason = outcome.get("connack")
        if reason is None or reason.is_failure:
            log.warning("broker refused the connection: %s", reason or outcome.get("lost", "no CONNACK"))
            client.disconnect()
            return False

        self.stats.connects += 1
        began = time.time()  # wall clock, as the outbox's `created`
        client.publish(self.topics.status, self._status("online"), qos=1, retain=True)
        client.subscribe(self.topics.commands, qos=1)
        self._connected.set()
        log.info("connected to %s:%s as %s, session %d", self.host, self.port, self._credentials[0], self.session)
        if self._on_session:
            self._on_session(self.session)

        inflight: dict[int, int] = {}  # mid -> seq
        last_sent = 0
        deadline: float | None = None
        while "lost" not in outcome:
            if self._stopping.is_set():
                deadline = deadline or time.monotonic() + self._drain_timeout
                if (not inflight and not self.outbox.after(last_sent, 1)) or time.monotonic() > deadline:
                    break
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
            if acked:
                seqs = [inflight.pop(mid) for mid in acked if mid in inflight]
                acked.clear()
                self.outbox.delivered(seqs)
                self.stats.delivered += len(seqs)
            room = self._window - len(inflight)
            batch = self.outbox.after(last_sent, room) if room > 0 else []
            for message in batch:
                # Queued before this connection began: it waited out an outage or a restart, or it was
                # sent on an earlier connection that dropped before its PUBACK.
                historical = message.created < began
                payload = message.as_historical() if historical else message.payload
                info = client.publish(message.topic, payload, qos=1, retain=message.retain)
                inflight[info.mid] = message.seq
                last_sent = message.seq
                self.stats.historical += historical
            self.stats.sent += len(batch)
            if not batch and not acked and not self._stopping.is_set():
                self._wake.wait(0.2)
                self._wake.clear()

        self._connected.clear()
        if "lost" in outcome:
            log.warning("connection to broker lost (%s); %d message(s) unconfirmed", outcome["lost"], len(inflight))
        else:
            # A clean goodbye: say offline ourselves (the broker drops the Will on a clean DISCONNECT).
            info = client.publish(self.topics.status, self._status("offline"), qos=1, retain=True)
            end = time.monotonic() + 2
            while not info.is_published() and time.monotonic() < end and client.loop(timeout=0.05) == 0:
                pass
            client.disconnect()
            client.loop(timeout=0.1)
        return True

    def _command(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            parsed = protocol.parse(message.topic, message.payload)
        except protocol.ProtocolError as exc:
            self.stats.commands_refused += 1
            log.warning("refused command: %s", exc)
            return
        if parsed.kind not in ("cmd", "permissions") or self._on_command is None:
            return
        try:
            self._on_command(parsed)
        except Exception:  # a faulty handler must not take the link down
            log.exception("command handler failed for %s", message.topic)
