"""The reference for B1: a bare Flask app that answers every POST with an empty TwiML
`<Response/>`, as the gateway's Twilio webhook does, with no verification, storage or
engine. Served with the production settings:

    gunicorn -c deploy/gunicorn.conf.py bench.bare_app:app
"""

from flask import Flask, Response

app = Flask(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@app.post("/carriers/<carrier_id>/sms")
def inbound_sms(carrier_id: str) -> Response:
    return Response(EMPTY_TWIML, 200, content_type="text/xml; charset=utf-8")


@app.get("/healthz")
def healthz():
    return "ok\n"
