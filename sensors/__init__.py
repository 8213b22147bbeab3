"""sensors layer: see ../shared/DESIGN.md (Layout)."""
