"""The moto server (DynamoDB, SNS, SES), answering one request at a time.

moto's own `moto_server` is threaded, and its DynamoDB backend does not isolate concurrent conditional writes and
transactions from each other: two `TransactWriteItems` with `attribute_not_exists` on the same key can both succeed.
DynamoDB guarantees they cannot, and this service's invariants rest on that guarantee, so the local stack and the
tests serve the same moto application without threads.

moto also makes a transaction cost as much as the whole table: before each of its items it deep-copies the table
(and its stream records) to roll back to. Here a transaction instead checks every condition against the state before
it, as DynamoDB does, and writes only when all of them hold, so nothing needs rolling back and a transaction costs
what its items cost.

moto also keeps every model instance it ever made, for `/moto-api/data.json`, which serializes them all on each
call. The outbox reads SNS's and SES's from there; DynamoDB's are every item ever written, so each outbox read would
grow with the writes before it, and, one request at a time, stall every other call past the SDK's bounds. DynamoDB's
models are not kept.

Usage: moto_serial.py HOST PORT
"""

import logging
import signal
import sys
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.core.model_instances import model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    checked = []
    errors: list[tuple[Any, Any, Any]] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        original = None
        try:
            if op_type not in OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = self.get_item(table_name, key)
            if op.get("ConditionExpression") is not None:
                condition = get_filter_expression(
                    op["ConditionExpression"],
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            checked.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except MultipleTransactionsException:
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original))
        except Exception as error:  # noqa: BLE001 - reported per item, as moto does
            errors.append((type(error).__name__, str(error), original))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, table_name, key in checked:
        names = op.get("ExpressionAttributeNames")
        values = op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Delete":
            self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Update":
            self.update_item(
                table_name,
                key,
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names,
                expression_attribute_values=values,
            )


class _Untracked(list):
    """A list that keeps nothing appended to it."""

    def append(self, _instance) -> None:
        pass


def main() -> None:
    for model in model_data["dynamodb"].values():
        model.instances_tracked = _Untracked()
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    DynamoDBBackend.transact_write_items = transact_write_items
    # Its stdout goes nowhere: spare it formatting a line per request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, application, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
