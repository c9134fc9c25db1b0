"""Learnline: an open learning gateway for SMS, USSD and lite web, on one SQLite file."""

from gateway.app import create_app

__all__ = ["create_app"]
