"""Production gunicorn settings for `learnline serve` (and `gunicorn -c deploy/gunicorn.conf.py`).

Sized for a small box inside a carrier's network (2 cores). Every value can
be overridden from the environment named beside it.
"""

import os

wsgi_app = "gateway.server.gunicorn_app:worker_app()"
bind = os.environ.get("LEARNLINE_BIND", "127.0.0.1:8000")
# Webhooks spend their time in SQLite and small CPU work: a few processes,
# each with a few threads, keep a 2-core machine busy without contention.
workers = int(os.environ.get("LEARNLINE_WEB_WORKERS", "2"))
# gunicorn's threaded worker, but a request gets a thread only once it has arrived whole:
# slow or silent clients cannot hold the few threads (docs/operations.md, Slow clients).
worker_class = "gateway.server.http_worker.BufferingWorker"
threads = int(os.environ.get("LEARNLINE_WEB_THREADS", "4"))
# Carriers give up on a USSD screen after a few seconds; never hold a request long.
timeout = 30
graceful_timeout = 10
keepalive = 5
# A worker recycled under load stalls the requests queued on it for hundreds of ms (a
# fresh process imports the app): rarely, as a guard against slow leaks only. Resident
# size stays near 50-70 MB over 50,000 webhooks (bench/RESULTS.md, B7).
max_requests = 100000
max_requests_jitter = 10000
# Small, strict request limits: carrier payloads are a few hundred bytes. The request
# line is the exception: Kannel's get-url carries the message %-encoded in the query,
# over 4 KB for a 10-part UCS-2 message; 8190 (gunicorn's largest) takes about 1,300
# UCS-2 characters, as nginx's large_client_header_buffers of 8k does.
limit_request_line = 8190
limit_request_fields = 60
limit_request_field_size = 8190
# Access log without query strings: webhook tokens travel in the query; with its time, as
# the gateway's own lines have it (a container's log has no journald stamps). An empty
# LEARNLINE_ACCESS_LOG turns it off (benchmarks).
accesslog = os.environ.get("LEARNLINE_ACCESS_LOG", "-") or None
access_log_format = '%(t)s %(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LEARNLINE_LOG_LEVEL", "info")
# Trust X-Forwarded-* only from a reverse proxy on this machine.
forwarded_allow_ips = os.environ.get("LEARNLINE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No shared control socket in $HOME: several gateways (or a benchmark's reference
# server) may run on one box, and operators manage Learnline through systemd.
control_socket_disable = True
