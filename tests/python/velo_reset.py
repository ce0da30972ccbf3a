"""Velo's own generated client (velo-python, from PyPI) resets a password against the local stack.

Usage: velo_reset.py BASE_URL MOTO_ENDPOINT EMAIL OLD_PASSWORD NEW_PASSWORD

Asks for a reset with LoginApi.reset_password (Velo's operation), and for an address nobody has (the same answer),
reads the link from the email the emulator's SES recorded, sets NEW_PASSWORD at POST /v1/password/reset/confirm (not
in Velo's document, so over plain HTTP), then signs in with LoginApi.velo_auth: the old password is refused, the new
one accepted. Prints one JSON line of what it saw; exits non-zero on the first surprise.
"""

import json
import re
import sys
import urllib.request

import velo_payments
from velo_payments.rest import ApiException


def reset_links(moto, email):
    """The reset tokens emailed to `email`, oldest first, from moto's record of every SES send."""
    with urllib.request.urlopen(f"{moto}/moto-api/data.json") as response:
        data = json.load(response)
    found = []

    def walk(value):
        if isinstance(value, dict):
            destinations = value.get("destinations")
            if isinstance(destinations, dict) and email in destinations.get("ToAddresses", []):
                found.append(value.get("body", ""))
            else:
                for item in value.values():
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data.get("ses", {}))
    tokens = []
    for body in found:
        link = re.search(r"password-reset\?token=([A-Za-z0-9._-]+)", body)
        if link:
            tokens.append(link.group(1))
    return tokens


def sign_in_status(base_url, email, password):
    configuration = velo_payments.Configuration(host=base_url)
    configuration.username = email
    configuration.password = password
    login = velo_payments.LoginApi(velo_payments.ApiClient(configuration))
    try:
        answer = login.velo_auth(grant_type="password")
    except ApiException as refused:
        return refused.status
    assert answer.token_type == "bearer", answer
    return 200


def main(base_url, moto, email, old_password, new_password):
    login = velo_payments.LoginApi(velo_payments.ApiClient(velo_payments.Configuration(host=base_url)))
    # 204: the generated client returns None, for a real address and for an unknown one alike.
    assert login.reset_password(velo_payments.ResetPasswordRequest(email=email)) is None
    assert login.reset_password(velo_payments.ResetPasswordRequest(email="nobody-" + email)) is None
    links = reset_links(moto, email)
    assert len(links) == 1, links
    assert reset_links(moto, "nobody-" + email) == []

    confirm = urllib.request.Request(
        f"{base_url}/v1/password/reset/confirm",
        data=json.dumps({"token": links[0], "password": new_password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(confirm) as response:
        confirmed = response.status
    assert confirmed == 204, confirmed

    old = sign_in_status(base_url, email, old_password)
    new = sign_in_status(base_url, email, new_password)
    assert (old, new) == (401, 200), (old, new)
    print(json.dumps({"confirmed": confirmed, "old_password": old, "new_password": new}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
