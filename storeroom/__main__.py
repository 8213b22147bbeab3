"""`python -m storeroom` is the `storeroom` command (used where the console script is not on PATH)."""

from storeroom.cli import main

main()
