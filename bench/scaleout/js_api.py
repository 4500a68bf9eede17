#!/usr/bin/env python3
"""One JetStream API request over the plain NATS protocol (the `nats` CLI is
not packaged in Debian 12): js_api.py HOST:PORT SUBJECT [JSON] prints the
reply and exits 1 when it carries an "error" or none came within 5 s.
Example: js_api.py 127.0.0.1:4222 '$JS.API.STREAM.CREATE.S' '{"name":"S",...}'"""
import json
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    subject = sys.argv[2]
    body = (sys.argv[3] if len(sys.argv) > 3 else "").encode()
    s = socket.create_connection((host, int(port)), timeout=5)
    f = s.makefile("rb")
    f.readline()  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.bench 1\r\n'
              + b"PUB %s _INBOX.bench %d\r\n%s\r\n" % (subject.encode(), len(body), body))
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed")
        if line.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            sys.exit(line.decode().strip())
        elif line.startswith(b"MSG"):
            size = int(line.split()[-1])
            reply = f.read(size + 2)[:size].decode()
            print(reply)
            sys.exit(1 if "error" in json.loads(reply) else 0)


main()
