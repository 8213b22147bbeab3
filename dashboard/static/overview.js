// Keeps the overview page live: a server-sent event stream (polling the JSON API every 2 s as the
// fallback) updates the values in place.
// The page is complete as served; this only refreshes it. No libraries, no external assets.
// When a request fails the page keeps its last values, says updates are paused, and tries again.
"use strict";

(function () {
  const body = document.body;
  const EVERY_MS = Number(body.dataset.pollMs) || 2000;
  const LABELS = JSON.parse(body.dataset.labels || "{}");

  // Mirrors formatting.age_text on the server.
  function ageText(seconds) {
    const say = (label, n) => label.replace("%(n)s", String(Math.round(n)));
    if (seconds === null || seconds === undefined) return LABELS.no_reading;
    if (seconds < 90) return say(LABELS.seconds_ago, seconds);
    if (seconds < 90 * 60) return say(LABELS.minutes_ago, seconds / 60);
    if (seconds < 48 * 3600) return say(LABELS.hours_ago, seconds / 3600);
    return say(LABELS.days_ago, seconds / 86400);
  }

  function valueText(value) {
    return value === null || value === undefined ? LABELS.no_value : value.toFixed(1);
  }

  function switchText(device) {
    const relay = "on" in device;
    const active = relay ? device.on : device.open;
    if (active === null || active === undefined) return LABELS.not_reported;
    if (relay) return active ? LABELS.relay_on : LABELS.relay_off;
    return active ? LABELS.door_open : LABELS.door_closed;
  }

  function gapsText(gaps) {
    if (!gaps.length) return LABELS.no_gaps;
    return gaps
      .map((g) => (g.first === g.last ? String(g.first) : g.first + "–" + g.last) + " (" + g.missing + ")")
      .join(", ");
  }

  function setField(scope, name, text) {
    const node = scope.querySelector('[data-field="' + name + '"]');
    if (node && node.textContent !== text) node.textContent = text;
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  // Rebuild a list only when its data changed, so a selection or a hover in it survives the polls.
  function replaceIfChanged(container, data, children) {
    const signature = JSON.stringify(data);
    if (container.dataset.signature === signature) return;
    container.dataset.signature = signature;
    container.replaceChildren(...children);
  }

  // Find the element for an id among a container's children, or clone it from a <template>.
  function findOrAdd(container, attribute, id, templateId) {
    for (const child of container.children) {
      if (child.getAttribute(attribute) === id) return child;
    }
    const fresh = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    fresh.setAttribute(attribute, id);
    container.append(fresh);
    return fresh;
  }

  function deviceItem(device, label, field) {
    return element("li", { "data-device": device.id, "data-active": JSON.stringify(device[field]) }, [
      label + " ",
      element("span", { class: "ident" }, [device.id]),
      ": ",
      element("span", { "data-field": field === "on" ? "relay" : "door" }, [switchText(device)]),
    ]);
  }

  function renderRoom(card, room) {
    card.classList.toggle("is-stale", room.stale);
    card.dataset.stale = JSON.stringify(room.stale);
    card.dataset.gatewayState = room.gateway_state;
    setField(card, "name", room.name);
    setField(card, "id", room.id);
    setField(card, "temperature", valueText(room.temperature_c));
    setField(card, "humidity", valueText(room.humidity_rh));
    setField(card, "age", ageText(room.age_s));
    setField(card, "state", (room.state && LABELS["sensor_" + room.state]) || "—");
    setField(
      card,
      "sensor-error",
      room.sensors
        .filter((s) => s.error)
        .map((s) => s.error)
        .join("; "),
    );
    setField(card, "gateway", room.gateway);
    replaceIfChanged(card.querySelector('[data-field="devices"]'), [room.relays, room.doors], [
      ...room.relays.map((r) => deviceItem(r, LABELS.dehumidifier, "on")),
      ...room.doors.map((d) => deviceItem(d, LABELS.door, "open")),
    ]);
  }

  function renderGateway(row, gateway) {
    row.dataset.state = gateway.state;
    setField(row, "name", gateway.name);
    setField(row, "id", gateway.id);
    setField(row, "state", LABELS[gateway.state] || gateway.state);
    setField(row, "since", gateway.since ? ageText(gateway.since_age_s) : "—");
    setField(row, "last_seen", gateway.last_seen ? ageText(gateway.last_seen_age_s) : "—");
    setField(row, "session", gateway.session === null ? "—" : String(gateway.session));
    setField(row, "last_seq", gateway.last_seq === null ? "—" : String(gateway.last_seq));
    setField(row, "messages", String(gateway.messages));
    setField(row, "duplicates", String(gateway.duplicates));
    setField(row, "gaps", gapsText(gateway.gaps));
    row.querySelector('[data-field="gaps"]').classList.toggle("has-gaps", gateway.gaps.length > 0);
  }

  function renderIngest(stats) {
    for (const node of document.querySelectorAll("#ingest [data-stat]")) {
      const value = String(stats[node.dataset.stat]);
      if (node.textContent !== value) node.textContent = value;
    }
    const reasons = Object.entries(stats.refused);
    replaceIfChanged(
      document.getElementById("refused"),
      reasons,
      reasons.length
        ? reasons.map(([reason, count]) =>
            element("li", { "data-reason": reason }, [
              element("code", {}, [reason]),
              ": ",
              element("span", { class: "num" }, [String(count)]),
            ]),
          )
        : [element("li", { class: "none" }, [LABELS.no_gaps])],
    );
    replaceIfChanged(
      document.getElementById("rejects"),
      stats.recent_rejects,
      stats.recent_rejects.map((r) =>
        element("tr", {}, [
          element("td", {}, [r.received]),
          element("td", {}, [element("code", {}, [r.topic])]),
          element("td", {}, [element("code", {}, [r.reason])]),
          element("td", {}, [r.message]),
          element("td", { class: "num" }, [String(r.size)]),
          element("td", {}, [element("code", {}, [r.preview])]),
        ]),
      ),
    );
  }

  async function getJSON(url) {
    const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      // The session ended (idle timeout, logout elsewhere): back to the login, then to this page.
      window.location.assign("login?next=" + encodeURIComponent(window.location.pathname));
    }
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  function setLive(live, now) {
    body.dataset.live = String(live);
    const text = live ? LABELS.live + " · " + new Date(now).toLocaleTimeString() : LABELS.paused;
    setField(document, "live", text);
  }

  function render(rooms, gateways, ingest) {
    const roomList = document.getElementById("rooms");
    for (const room of rooms.rooms) renderRoom(findOrAdd(roomList, "data-room", room.id, "room-template"), room);
    const gatewayList = document.getElementById("gateways");
    for (const gateway of gateways.gateways) {
      renderGateway(findOrAdd(gatewayList, "data-gateway", gateway.id, "gateway-template"), gateway);
    }
    if (ingest) renderIngest(ingest);
    setLive(true, rooms.now);
  }

  // Polling: the fallback when the server cannot hold a stream for us (or the browser has no EventSource).
  async function refresh() {
    try {
      // The ingest section is on the page only for roles allowed to see it.
      const showIngest = document.getElementById("ingest") !== null;
      const [rooms, gateways, ingest] = await Promise.all([
        getJSON("api/rooms"),
        getJSON("api/gateways"),
        showIngest ? getJSON("api/ingest") : null,
      ]);
      render(rooms, gateways, ingest);
    } catch (error) {
      // The server restarting or the network dropping is routine: keep the last values and try again.
      setLive(false);
    } finally {
      setTimeout(refresh, EVERY_MS);
    }
  }

  // Server-sent events: the server pushes a snapshot when the data changes (and every few seconds, so
  // ages move). EventSource reconnects by itself after a drop; if the server refuses the stream
  // (too many open, or the session ended) we fall back to polling, which also handles the login.
  function stream() {
    if (typeof EventSource === "undefined") return refresh();
    const source = new EventSource("api/stream");
    source.addEventListener("snapshot", (event) => {
      const data = JSON.parse(event.data);
      render(data.rooms, data.gateways, data.ingest);
    });
    source.addEventListener("error", () => {
      setLive(false);
      if (source.readyState === EventSource.CLOSED) refresh();
    });
  }

  stream();
})();
