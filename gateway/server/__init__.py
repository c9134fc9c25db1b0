"""The web server's plumbing: the carrier webhooks answered in front of Flask, error pages,
the request guard, health checks, forwarded addresses, the buffering HTTP worker, and the
glue that runs the app under gunicorn (deploy/gunicorn.conf.py)."""
