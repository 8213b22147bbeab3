"""The dashboard's MQTT ingest: subscribes to everything a site's gateways say and feeds `Store.ingest`.

Design choices, each for a failure that loses or repeats data:
- One thread of our own runs the paho client (`loop_forever`) and owns the `Store`: the SQLite
  connection is opened in that thread and never leaves it, as sqlite3 requires. paho's callbacks run
  on that same thread, so no lock is needed and no connection is shared.
- A persistent session (`clean_session=False`, a fixed client id per site) and QoS 1: while the
  dashboard is down the broker queues what the gateways send, and delivers it when it is back.
- Manual acknowledgement: a message is PUBACKed only once the store has taken it (stored, counted as
  a repeat, or refused). When the database cannot take it (`StorageError`: locked, disk full) it is
  left unacknowledged and the connection is dropped on purpose; the broker delivers it again on the
  next connection. Repeats are harmless: the store is idempotent on (gateway, seq).
- On a new session (the broker kept nothing for us: first start, or a broker that lost its state) the
  dashboard may have missed births, so it asks every configured gateway for a `cmd/rebirth`: relays,
  doors and latest readings are known at once instead of at their next change.
- paho reconnects by itself with a capped backoff; `stop()` ends the loop within a few seconds.

Example:

    ingest = Ingest(site, site.dashboard_database, host="127.0.0.1", port=1883,
                    username="dashboard", password=read_password(site, "dashboard"))
    ingest.start()
    ingest.wait_ready(10)   # subscribed: from now on nothing the gateways send is missed
    ...
    ingest.stop()
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from dashboard import loans
from dashboard.store import StorageError, Store
from dashboard.users import connect
from gateway import protocol
from hardware.config import SiteConfig

log = logging.getLogger(__name__)

RECONNECT_DELAY_S = (0.5, 2.0)
"""paho's backoff between connection attempts (first, cap). Short: the broker is near, and what gateways
publish after a broker restart reaches the dashboard only once it has subscribed again (unless the broker
persists sessions). The cap also bounds how long `stop()` waits."""


class Ingest:
    """The subscriber that fills the dashboard database. `start()` once; `stop()` on shutdown."""

    def __init__(
        self,
        site: SiteConfig,
        store_path: Path,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        keepalive: int | None = None,
        rebirth: bool = True,
    ) -> None:
        self.site = site
        self.store_path = Path(store_path)
        self.host, self.port = host, port
        self.topic = protocol.site_filter(site.site.id)
        self.outcomes: Counter[str] = Counter()
        """What became of each message since start (outcome -> count); the database keeps the lasting counts."""
        self._keepalive = keepalive or site.broker.keepalive_s
        self._rebirth = rebirth
        self._session_present = False
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"storeroom-dashboard-{site.site.id}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(*RECONNECT_DELAY_S)
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._store: Store | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # orders stop() against a reconnect after a storage failure
        self._thread: threading.Thread | None = None
        self._unreachable = False
        self.failed: BaseException | None = None
        """Set if the ingest thread died of something unexpected (it logs it too)."""

    # -- public -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def start(self) -> None:
        """Prepare the database, then connect in the background (retrying until the broker answers).

        The database is created, migrated and given the site's config here, in the caller's thread, so
        it is ready for readers when this returns and a database that cannot be written fails loudly now.
        """
        if self._thread is not None:
            raise RuntimeError("this Ingest was started already")
        with Store(self.store_path) as store:
            store.sync_config(self.site)
        self._thread = threading.Thread(target=self._run, name="dashboard-ingest", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Send a command at QoS 1 on the ingest's connection; False when not connected (nothing sent).
        `retain`: the broker keeps it for a gateway that connects later (the loan and permission documents)."""
        if not self._client.is_connected():
            return False
        return self._client.publish(topic, payload, qos=1, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    def wait_ready(self, timeout: float) -> bool:
        """Wait until subscribed; True if so within `timeout` seconds."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect cleanly and close the database; messages in flight are delivered again next time."""
        with self._lock:
            self._stopping.set()
            self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("ingest thread did not stop within %.0f s", timeout)

    def __enter__(self) -> Ingest:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the ingest thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with Store(self.store_path) as store:  # this thread's own connection, used only here
                self._store = store
                log.info("ingest: connecting to %s:%s for %s", self.host, self.port, self.topic)
                while True:
                    with self._lock:
                        if self._stopping.is_set():
                            break
                        self._client.connect_async(self.host, self.port, keepalive=self._keepalive)
                    self._client.loop_forever(timeout=0.25, retry_first_connection=True)  # 0.25: stop() is felt soon
                    # Back here after stop(), or after a storage failure dropped the connection on purpose.
                    if self._stopping.wait(RECONNECT_DELAY_S[1]):
                        break
        except BaseException as exc:
            self.failed = exc
            log.exception("ingest stopped by an unexpected error")
        finally:
            self._store = None
            self._ready.clear()
            log.info("ingest: stopped (%s)", dict(self.outcomes) or "no messages")

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if self._stopping.is_set():  # stop() raced with a reconnect: leave at once
            client.disconnect()
            return
        if reason.is_failure:
            log.warning("broker %s:%s refused the dashboard: %s", self.host, self.port, reason)
            return
        self._unreachable = False
        self._session_present = bool(getattr(flags, "session_present", False))
        session = "resumed its session" if self._session_present else "new session"
        log.info("connected to broker %s:%s (%s); subscribing to %s", self.host, self.port, session, self.topic)
        client.subscribe(self.topic, qos=1)

    def _on_connect_fail(self, client: mqtt.Client, _userdata: Any) -> None:
        if self._stopping.is_set():
            client.disconnect()  # ends paho's retry loop instead of one more attempt
        elif not self._unreachable:
            self._unreachable = True  # said once per outage, not on every retry
            log.warning("broker %s:%s unreachable; retrying every few seconds", self.host, self.port)

    def _on_subscribe(self, client: mqtt.Client, _userdata: Any, _mid: int, reasons: list, _props: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("broker refused the subscription to %s: %s", self.topic, reasons)
            return
        if self._rebirth and not self._session_present:
            self._ask_for_rebirth(client)
        self._ready.set()

    def _ask_for_rebirth(self, client: mqtt.Client) -> None:
        """Ask each configured gateway to publish its whole state again; an offline one sends it on connect."""
        for gateway in self.site.gateway_ids:
            command = protocol.Command(id=protocol.new_id(), ts=protocol.utc_now(), by="dashboard")
            client.publish(protocol.Topics(self.site.site.id, gateway).cmd("rebirth"), command.to_json(), qos=1)
        log.info("new session: asked %d gateway(s) to republish their state", len(self.site.gateway_ids))

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._ready.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from broker %s:%s (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        assert self._store is not None
        try:
            topic = message.topic
        except UnicodeDecodeError:  # MQTT topics are UTF-8; the broker should not let this through
            topic = "(a topic that is not UTF-8)"
        try:
            result = self._store.ingest(topic, message.payload)
        except StorageError as exc:
            # Not acknowledged: the broker keeps it and delivers it again after we reconnect.
            log.error("%s; reconnecting to have it delivered again", exc)
            self.outcomes["storage_error"] += 1
            client.disconnect()
            return
        self.outcomes[result.outcome] += 1
        client.ack(message.mid, message.qos)
        if result.stored and result.kind == "event" and topic.rsplit("/", 1)[-1] in loans.EVENTS:
            self._loans_changed()

    def _loans_changed(self) -> None:
        """A dossier was checked out or returned at some gateway: tell every gateway (their doors)."""
        conn = connect(self.store_path)
        try:
            loans.publish_document(conn, self.site, self.publish, protocol.utc_now())
        except Exception:  # the loan document is sent again on the next change; the ingest goes on
            log.exception("could not send the loan document")
        finally:
            conn.close()
