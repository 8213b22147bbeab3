// The room page's charts: temperature and humidity over 24 h / 7 d / 30 d, with the room's target band.
// uPlot (from npm, served by the dashboard itself) draws; the data comes from /api/rooms/<room>/history.
(function () {
  "use strict";
  const box = document.getElementById("charts");
  if (!box || typeof uPlot === "undefined") return;
  const status = box.querySelector('[data-field="chart-status"]');
  const bands = {
    humidity: JSON.parse(box.dataset.humidityBand || "null"),
    temperature: JSON.parse(box.dataset.temperatureBand || "null"),
  };
  const LABELS = JSON.parse(box.dataset.labels || "{}");
  let period = "24h";
  const charts = {};

  function width() {
    return Math.max(280, Math.min(box.clientWidth - 8, 900));
  }

  function options(title, unit, colour, band, outside) {
    const shown = (u, v) => (v == null ? "—" : v.toFixed(1) + " " + unit);
    const series = [{}, { label: title, stroke: colour, width: 2, value: shown }];
    if (outside) series.push({ label: LABELS.outside, stroke: "#757575", dash: [2, 3], width: 1, value: shown });
    if (band) {
      series.push({ label: LABELS.low, stroke: "#2e7d32", dash: [6, 4], width: 1, points: { show: false } });
      series.push({ label: LABELS.high, stroke: "#c62828", dash: [6, 4], width: 1, points: { show: false } });
    }
    return { width: width(), height: 220, series: series, axes: [{}, { label: unit }] };
  }

  function draw(name, title, unit, colour, points, field, outside) {
    const band = bands[name];
    const xs = points.map((p) => p.t);
    const data = [xs, points.map((p) => p[field])];
    if (outside) {
      // Both histories are averaged over the same slices, so a slice's middle `t` matches between them.
      const byTime = new Map(outside.map((p) => [p.t, p[field]]));
      data.push(xs.map((t) => (byTime.has(t) ? byTime.get(t) : null)));
    }
    if (band) {
      data.push(xs.map(() => band[0]));
      data.push(xs.map(() => band[1]));
    }
    const target = document.getElementById(name + "-chart");
    if (charts[name]) charts[name].destroy();
    charts[name] = new uPlot(options(title, unit, colour, band, outside), data, target);
  }

  // The site's outdoor sensor, drawn beside the room's own line: inside read against outside.
  async function outsidePoints() {
    if (!box.dataset.outsideHistory) return null;
    try {
      const response = await fetch(box.dataset.outsideHistory + "?period=" + period, { cache: "no-store" });
      return response.ok ? (await response.json()).points : null;
    } catch (error) {
      return null;
    }
  }

  async function load() {
    try {
      const response = await fetch(box.dataset.history + "?period=" + period, { cache: "no-store" });
      if (response.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (!response.ok) throw new Error("history answered " + response.status);
      const body = await response.json();
      const outside = await outsidePoints();
      draw("humidity", LABELS.humidity, "% RH", "#1565c0", body.points, "humidity_rh", outside);
      draw("temperature", LABELS.temperature, "°C", "#ef6c00", body.points, "temperature_c", outside);
      status.textContent =
        LABELS.points.replace("%(n)s", String(body.points.length)) + " · " + new Date(body.now).toLocaleTimeString();
    } catch (error) {
      status.textContent = LABELS.unavailable;
    }
  }

  for (const button of box.querySelectorAll("button[data-period]")) {
    button.addEventListener("click", () => {
      period = button.dataset.period;
      for (const other of box.querySelectorAll("button[data-period]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      load();
    });
  }
  load();
  setInterval(load, 60000);

  // The latest values at the top of the page stay live through the same stream as the overview.
  const section = document.querySelector("section[data-room]");
  if (section && typeof EventSource !== "undefined") {
    const source = new EventSource(box.dataset.stream);
    source.addEventListener("snapshot", (event) => {
      const room = JSON.parse(event.data).rooms.rooms.find((r) => r.id === section.dataset.room);
      if (!room) return;
      const show = (field, value) => {
        const node = section.querySelector('[data-field="' + field + '"]');
        if (node) node.textContent = value === null || value === undefined ? "—" : value.toFixed(1);
      };
      show("temperature", room.temperature_c);
      show("humidity", room.humidity_rh);
      const age = section.querySelector('[data-field="age"]');
      if (age && room.age_s !== null) age.textContent = LABELS.ago.replace("%(n)s", String(Math.round(room.age_s)));
    });
  }
})();
