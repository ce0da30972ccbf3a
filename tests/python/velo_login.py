"""Velo's own generated client (velo-python, from PyPI) against the local stack, as its documentation drives it.

Usage: velo_login.py BASE_URL MOTO_ENDPOINT EMAIL PASSWORD PHONE

Signs in with LoginApi.velo_auth(grant_type="password"), reads the SMS code from the emulator's outbox, completes it
with LoginApi.validate_access_token, reads UsersApi.get_self, refreshes, signs out with LoginApi.logout, and checks
that get_self is then refused with 401. Prints one JSON line of what it saw; exits non-zero on the first surprise.
"""

import json
import sys
import urllib.request

import velo_payments
from velo_payments.rest import ApiException


def sign_in_codes(moto, phone):
    """The sign-in codes sent to `phone`, oldest first, from moto's record of every SNS publish."""
    with urllib.request.urlopen(f"{moto}/moto-api/data.json") as response:
        data = json.load(response)
    found = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, list) and len(item) >= 2 and item[0] == phone:
                    found.append(item[1])
                elif isinstance(item, dict) and item.get("phone_number") == phone:
                    found.append(item.get("message", ""))
                else:
                    walk(item)

    walk(data.get("sns", {}))
    prefix = "Your sign-in code is "
    return [message[len(prefix):len(prefix) + 6] for message in found if message.startswith(prefix)]


def main(base_url, moto, email, password, phone):
    configuration = velo_payments.Configuration(host=base_url)
    configuration.username = email
    configuration.password = password
    client = velo_payments.ApiClient(configuration)
    login = velo_payments.LoginApi(client)

    pre_auth = login.velo_auth(grant_type="password")
    assert pre_auth.token_type == "bearer", pre_auth
    assert pre_auth.refresh_token is None, pre_auth
    codes = sign_in_codes(moto, phone)
    assert len(codes) == 1, codes

    # The client sends its configured access token on every OAuth2 operation, over the `authorization` argument.
    configuration.access_token = pre_auth.access_token
    validated = login.validate_access_token(
        velo_payments.AccessTokenValidationRequest(otp=codes[-1]),
        authorization=f"Bearer {pre_auth.access_token}",
    )
    assert validated.expires_in == 1800, validated
    assert validated.user_info.mfa_details.mfa_type == "SMS", validated

    configuration.access_token = validated.access_token
    me = velo_payments.UsersApi(client).get_self()
    assert me.email == email, me

    # velo_auth has no refresh_token parameter: the same operation, with the query the Login API documents.
    refreshed, status, _ = client.call_api(
        "/v1/authenticate", "POST",
        query_params=[("grant_type", "refresh_token"), ("refresh_token", validated.refresh_token)],
        header_params={"Accept": "application/json"},
        response_type="AuthResponse", auth_settings=[], _return_http_data_only=False,
    )
    assert status == 200 and refreshed.refresh_token != validated.refresh_token, refreshed
    configuration.access_token = refreshed.access_token
    assert velo_payments.UsersApi(client).get_self().id == me.id

    login.logout()
    try:
        velo_payments.UsersApi(client).get_self()
    except ApiException as refused:
        after_logout = refused.status
    else:
        raise AssertionError("get_self answered after logout")
    assert after_logout == 401, after_logout
    print(json.dumps({"user_id": me.id, "signed_in": True, "refreshed": True, "after_logout": after_logout}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
