"""Translation catalogues kept as .po text in the repository, compiled to .mo when an app starts.

Compiled whenever the .po is newer than its .mo, so there is no build step to forget; used by the
dashboard and by the copy stand's station page, each with its own catalogues.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def compile_catalogues(folder: Path) -> None:
    for po in folder.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalogue = read_po(source)
            temporary = mo.with_suffix(".tmp")
            with temporary.open("wb") as out:
                write_mo(out, catalogue)
            temporary.replace(mo)  # another process starting at the same time never reads half a file
