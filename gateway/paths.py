"""Where the bundled content lives, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE_DIR / "_bundled"
_CHECKOUT = _PACKAGE_DIR.parent


def _find(name: str) -> Path:
    """Return the bundled `name` folder: inside the wheel, else beside the package."""
    for candidate in (_BUNDLED / name, _CHECKOUT / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"Learnline's bundled {name!r} is missing from {_PACKAGE_DIR}")


def lessons_dir() -> Path:
    """The folder of bundled courses (one sub-folder per course)."""
    return _find("lessons")


def locales_dir() -> Path:
    """The folder of gettext catalogs (`<lang>/LC_MESSAGES/messages.po`)."""
    return _find("locales")


def gunicorn_config() -> Path:
    """The production gunicorn settings file."""
    wheel_copy = _BUNDLED / "gunicorn.conf.py"
    return wheel_copy if wheel_copy.exists() else _find("deploy") / "gunicorn.conf.py"
