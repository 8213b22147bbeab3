"""Front-end libraries from the npm registry (package.json), served by the dashboard itself.

Storerooms are often cut off from the internet, so no page loads anything from elsewhere. Only the
files named here are served, from `node_modules/` beside the project (made by `npm ci` in `make setup`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"
ASSETS = {
    "uplot.js": "uplot/dist/uPlot.iife.min.js",
    "uplot.css": "uplot/dist/uPlot.min.css",
}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    path = NODE_MODULES / ASSETS[name]
    if not path.exists():
        abort(404, description=f"{ASSETS[name]} is not installed: run `make setup` (npm ci)")
    return send_from_directory(path.parent, path.name, max_age=3600)
