"""vision layer: see ../shared/DESIGN.md (Layout)."""
