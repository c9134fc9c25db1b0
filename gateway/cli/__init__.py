"""The `learnline` command: the group and its everyday commands in `main`, one module per
larger group of commands (announce, db, i18n, learners, packs, restore, sync) and the
console chat (`chats`)."""

from gateway.cli.main import main

__all__ = ["main"]
