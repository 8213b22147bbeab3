"""gateway layer: see ../shared/DESIGN.md (Layout)."""
