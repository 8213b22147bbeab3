"""dashboard layer: see ../shared/DESIGN.md (Layout)."""
