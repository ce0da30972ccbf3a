"""Velo's own generated client (velo-python) makes an application and an API key, and signs in with the key.

Usage: velo_api_keys.py BASE_URL PAYOR_ADMIN_TOKEN PAYOR_ID

PayorsApi.payor_create_application_v1 (201 and its Location), PayorsApi.payor_create_api_key_v1 (the key and its
secret), LoginApi.velo_auth(grant_type="client_credentials") with them, then UsersApi.list_users with the key's token.
Prints one JSON line of what it saw; exits non-zero on the first surprise.
"""

import json
import sys
import uuid

import velo_payments


def main(base_url, payor_admin_token, payor_id):
    admin = velo_payments.Configuration(host=base_url)
    admin.access_token = payor_admin_token
    payors = velo_payments.PayorsApi(velo_payments.ApiClient(admin))

    _, status, headers = payors.payor_create_application_v1_with_http_info(
        payor_id,
        velo_payments.PayorCreateApplicationRequest(name=f"SAP {uuid.uuid4()}", description="SAP Application integration"),
    )
    assert status == 201, status
    application_id = headers["Location"].rsplit("/", 1)[-1]
    key = payors.payor_create_api_key_v1(
        payor_id,
        application_id,
        velo_payments.PayorCreateApiKeyRequest(name="SAP Key 01", description="An API Key for SAP", roles=["velo.payor.admin"]),
    )
    assert key.api_key and key.api_secret, key

    client = velo_payments.Configuration(host=base_url)
    client.username = key.api_key
    client.password = key.api_secret
    api_client = velo_payments.ApiClient(client)
    auth = velo_payments.LoginApi(api_client).velo_auth(grant_type="client_credentials")
    assert auth.entity_ids == [payor_id], auth
    client.access_token = auth.access_token
    users = velo_payments.UsersApi(api_client).list_users()
    entities = sorted({user.entity_id for user in users.content})
    assert entities == [payor_id], entities
    print(json.dumps({
        "application_id": application_id,
        "api_key": key.api_key,
        "entity_ids": auth.entity_ids,
        "access_token": auth.access_token,
        "listed": sorted(user.id for user in users.content),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
