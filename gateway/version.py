"""Learnline's version: the one place it is written (pyproject.toml reads it from here).

MAJOR.MINOR.PATCH: PATCH for fixes that change no documented behaviour, MINOR for any
change in behaviour, a migration or a new setting, MAJOR when an operator must act
beyond installing and restarting. CHANGELOG.md says what each version changed.
"""

VERSION = "0.2.0"
