"""A stack room's floor plan as SVG, drawn from its config: shelf rows, doors and sensors with their live values.

The plan is in the room's metres (1 m = SCALE units). A row is drawn as a long rectangle split into its
columns (节), side A above side B; a shelf to point out (a dossier's home, where it was last seen) is
filled and labelled. Everything is drawn with SVG attributes and classes, no inline style, so it keeps to
the dashboard's content security policy.

Example:

    >>> from hardware.config import load
    >>> site = load("hardware/configs/demo.toml")
    >>> svg = render(site.tracking.plans[0], highlight={"east-stack/r1-A-2-3": "home"})
    >>> 'data-shelf="east-stack/r1-A-2-3"' in svg and 'class="column home"' in svg
    True
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from hardware.config import RoomPlan

SCALE = 50
"""SVG units per metre."""
MARGIN = 20


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def render(
    plan: RoomPlan,
    *,
    highlight: dict[str, str] | None = None,
    sensors: dict[str, dict[str, Any]] | None = None,
    doors: dict[str, bool | None] | None = None,
    title: str = "",
) -> Markup:
    """The plan as an inline <svg>. `highlight` maps shelf codes to a class (`home`, `seen`; `due`: unlabelled);
    `sensors` gives each sensor's latest values (temperature_c, humidity_rh, stale); `doors` whether open."""
    highlight = highlight or {}
    sensors = sensors or {}
    doors = doors or {}
    width, depth = plan.width_m * SCALE, plan.depth_m * SCALE
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="floorplan" role="img" data-room="{escape(plan.room)}"'
        f' viewBox="{-MARGIN} {-MARGIN} {_fmt(width + 2 * MARGIN)} {_fmt(depth + 2 * MARGIN)}">',
        f"<title>{escape(title or plan.room)}</title>",
        f'<rect class="walls" x="0" y="0" width="{_fmt(width)}" height="{_fmt(depth)}"'
        ' fill="#fafafa" stroke="#333" stroke-width="3"/>',
    ]
    for row in plan.rows:
        x, y = row.x_m * SCALE, row.y_m * SCALE
        length, row_depth = row.length_m * SCALE, row.depth_m * SCALE
        side_depth = row_depth / len(row.sides)
        column_length = length / row.columns
        parts.append(f'<g class="row" data-row="{escape(plan.room)}/{escape(row.id)}">')
        for s, side in enumerate(row.sides):
            for column in range(1, row.columns + 1):
                prefix = f"{plan.room}/{row.id}-{side}-{column}-"
                marked = sorted((code, mark) for code, mark in highlight.items() if code.startswith(prefix))
                mark = marked[0][1] if marked else ""
                shelf_attr = f' data-shelf="{escape(marked[0][0])}"' if marked else ""
                fill = {"home": "#f4b400", "seen": "#db4437", "due": "#f6c6c0"}.get(mark, "#dfe7ef")
                parts.append(
                    f'<rect class="column{" " + escape(mark) if mark else ""}"{shelf_attr}'
                    f' x="{_fmt(x + (column - 1) * column_length)}" y="{_fmt(y + s * side_depth)}"'
                    f' width="{_fmt(column_length)}" height="{_fmt(side_depth)}" fill="{fill}" stroke="#789"'
                    ' stroke-width="1"/>'
                )
                if marked and mark != "due":
                    layer = marked[0][0].rsplit("-", 1)[-1]
                    parts.append(
                        f'<text class="shelf-label" x="{_fmt(x + (column - 0.5) * column_length)}"'
                        f' y="{_fmt(y + (s + 0.5) * side_depth + 4)}" text-anchor="middle" font-size="11">'
                        f"{escape(side)}-{column}-{escape(layer)}</text>"
                    )
        parts.append(
            f'<text class="row-label" x="{_fmt(x - 6)}" y="{_fmt(y + row_depth / 2 + 4)}" text-anchor="end"'
            f' font-size="12">{escape(row.label or row.id)}</text></g>'
        )
    for door in plan.doors:
        state = doors.get(door.id)
        cls = "open" if state else ("closed" if state is False else "unknown")
        parts.append(
            f'<g class="door {cls}" data-door="{escape(door.id)}"><rect x="{_fmt(door.x_m * SCALE - 8)}"'
            f' y="{_fmt(door.y_m * SCALE - 20)}" width="16" height="40"'
            f' fill="{"#db4437" if state else "#8d6e63"}"/>'
            f'<text x="{_fmt(door.x_m * SCALE + 12)}" y="{_fmt(door.y_m * SCALE + 4)}" font-size="11">'
            f"{escape(door.id)}</text></g>"
        )
    for sensor in plan.sensors:
        value = sensors.get(sensor.id, {})
        cx, cy = sensor.x_m * SCALE, sensor.y_m * SCALE
        reading = ""
        if value.get("temperature_c") is not None and value.get("humidity_rh") is not None:
            reading = f"{value['temperature_c']:.1f} °C {value['humidity_rh']:.0f} %"
        cls = "stale" if value.get("stale") else "live"
        anchor = "end" if cx > width / 2 else "start"
        dx = -10 if anchor == "end" else 10
        parts.append(
            f'<g class="sensor {cls}" data-sensor="{escape(sensor.id)}"><circle cx="{_fmt(cx)}" cy="{_fmt(cy)}"'
            f' r="6" fill="{"#999" if cls == "stale" else "#0f9d58"}"/>'
            f'<text x="{_fmt(cx + dx)}" y="{_fmt(cy + 4)}" text-anchor="{anchor}" font-size="11">'
            f"{escape(sensor.id)} {escape(reading)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
