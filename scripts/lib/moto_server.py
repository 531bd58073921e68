#!/usr/bin/env python3
"""moto's S3 server, with signature checks that see the request as it was signed.

moto (5.2, server mode) rebuilds the URL it verifies SigV4 against from
werkzeug's `request.url`, which re-quotes the path and query: `prefix=seed%2F`
comes back as `prefix=seed/`, and keys with spaces or non-ASCII characters
change too. With authentication on (INITIAL_NO_AUTH_ACTION_COUNT), every such
request then fails with SignatureDoesNotMatch although the client signed it
correctly. Here `request.url` is rebuilt from the raw request line (RAW_URI),
which is what moto sees in its in-process mode, so such requests pass and a
wrong key still fails.

Usage: moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""
import flask

_original_url = flask.Request.url


def _raw_url(self):
    raw = self.environ.get("RAW_URI") or self.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return self.host_url.rstrip("/") + raw
    return _original_url.__get__(self, type(self))


flask.Request.url = property(_raw_url)

if __name__ == "__main__":
    from moto.server import main

    main()
