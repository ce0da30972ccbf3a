"""The moto server (DynamoDB, SNS, SES), answering one request at a time.

moto's own `moto_server` is threaded, and its DynamoDB backend does not isolate concurrent conditional writes and
transactions from each other: two `TransactWriteItems` with `attribute_not_exists` on the same key can both succeed.
DynamoDB guarantees they cannot, and this service's invariants rest on that guarantee, so the local stack and the
tests serve the same moto application without threads.

Usage: moto_serial.py HOST PORT
"""

import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, application, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
