"""The moto server (DynamoDB, SNS, SES), answering one request at a time.

moto's own `moto_server` is threaded, and its DynamoDB backend does not isolate concurrent conditional writes and
transactions from each other: two `TransactWriteItems` with `attribute_not_exists` on the same key can both succeed.
DynamoDB guarantees they cannot, and this service's invariants rest on that guarantee, so the local stack and the
tests serve the same moto application without threads.

moto also keeps every model instance it ever made, for `/moto-api/data.json`, which serializes them all on each
call. The outbox reads SNS's and SES's from there; DynamoDB's are every item ever written, so each outbox read would
grow with the writes before it, and, one request at a time, stall every other call past the SDK's bounds. DynamoDB's
models are not kept.

Usage: moto_serial.py HOST PORT
"""

import signal
import sys

import moto.dynamodb.models  # noqa: F401 (registers DynamoDB's models in model_data)
from moto.core.model_instances import model_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class _Untracked(list):
    """A list that keeps nothing appended to it."""

    def append(self, _instance) -> None:
        pass


def main() -> None:
    for model in model_data["dynamodb"].values():
        model.instances_tracked = _Untracked()
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, application, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
