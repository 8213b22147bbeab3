"""hardware layer: see ../shared/DESIGN.md (Layout)."""
