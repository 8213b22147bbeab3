"""rfid layer: see ../shared/DESIGN.md (Layout)."""
