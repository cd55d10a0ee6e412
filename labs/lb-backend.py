#!/usr/bin/env python3
"""A small web server that answers with its own name: the backends of labs/load-balancer.yaml.

    python3 lb-backend.py NAME [PORT]

GET /            "NAME\n"
GET /slow?s=N    "NAME\n" after N seconds (for least connections)
GET /health      "ok\n" (the load balancer's HTTP check)
GET /headers     the request's header fields as received (X-Forwarded-For, Forwarded)
GET /ip          "NAME CLIENT": the address the connection came from
anything else    "NAME: PATH\n"

HTTP/1.1 with keep-alive, one thread per connection (ThreadingHTTPServer), so a
slow request does not hold up the others. Each request is logged to stderr
with the client's address: in nat mode that is the client itself, in proxy
and http modes the load balancer.
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

NAME = sys.argv[1] if len(sys.argv) > 1 else "backend"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 80


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/slow":
            seconds = float(parse_qs(url.query).get("s", ["2"])[0])
            time.sleep(min(seconds, 60))
            body = f"{NAME}\n"
        elif url.path == "/health":
            body = "ok\n"
        elif url.path == "/headers":
            body = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        elif url.path == "/ip":
            body = f"{NAME} {self.client_address[0]}\n"
        elif url.path == "/":
            body = f"{NAME}\n"
        else:
            body = f"{NAME}: {url.path}\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{NAME} {self.client_address[0]} {fmt % args}\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


if __name__ == "__main__":
    Server(("0.0.0.0", PORT), Handler).serve_forever()
