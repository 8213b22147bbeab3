"""dashboard layer: the central web app (see ../shared/DESIGN.md, Layout). It knows the wire protocol
(`gateway/protocol.py`) and the site config, nothing else of the gateway.

    ingest.py      MQTT subscriber: every message of the site's gateways into the store
    store.py       the database: ingest (validate, refuse and count, idempotent on gateway+seq, gaps)
    schema.py      the SQLite schema, as numbered migrations
    readout.py     what the pages and the API show, read from the database
    app.py         `create_app(site)`: the Flask app factory
    overview.py    GET /             the overview page (templates/, static/)
    api.py         GET /api/...      the JSON API
    connection.py  one read-only database connection per request
    formatting.py  how values read on the page (ages, states, gaps)
    event_text.py  gateways' events and alerts worded in the reader's language, from their fields
    report.py      the daily / weekly report as a MIME e-mail in the recipient's language (`dashboard report`)
    serve.py       ingest + waitress until SIGTERM;  cli.py: `storeroom dashboard serve`
"""
