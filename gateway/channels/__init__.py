"""Channels: they turn engine replies into SMS text, USSD screens or web pages."""
