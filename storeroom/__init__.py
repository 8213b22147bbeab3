"""storeroom: the top of the stack. It composes the layers (the `storeroom` command and the demo) and
holds no storeroom logic of its own; see hardware/, rfid/, sensors/, vision/, gateway/ and dashboard/."""

__version__ = "0.1.0"
