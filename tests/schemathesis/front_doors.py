"""Schemathesis hooks for the suite's `schemathesis` test: every error answer is in its front door's format."""

import schemathesis


def _text(body, field):
    value = body.get(field)
    return isinstance(value, str) and value != ""


def _velo(body, status):
    errors = body.get("errors")
    return (
        _text(body, "correlationId")
        and body.get("httpStatusCode") == status
        and isinstance(errors, list)
        and len(errors) > 0
        and all(
            isinstance(error, dict) and _text(error, "errorCode") and _text(error, "errorMessage")
            for error in errors
        )
    )


def _qi(body, status):
    return (
        all(_text(body, field) for field in ("title", "description", "translation", "code"))
        and isinstance(body.get("extra_fields"), dict)
    )


def _sigma(body, status):
    return _text(body, "type") and _text(body, "message") and body.get("httpStatus") == status


FRONT_DOORS = (
    ("/v2/users", "Velo {correlationId, httpStatusCode, errors[{errorCode, errorMessage, ...}]}", _velo),
    # Velo's Login API, its payors' applications and API keys, and the issuer's keys: Velo's error body too.
    ("/v1/", "Velo {correlationId, httpStatusCode, errors[{errorCode, errorMessage, ...}]}", _velo),
    ("/.well-known/", "Velo {correlationId, httpStatusCode, errors[{errorCode, errorMessage, ...}]}", _velo),
    ("/account/", "QI {title, description, translation, code, extra_fields}", _qi),
    ("/api/n/otp-handler", "Sigma {type, message, httpStatus}", _sigma),
)


@schemathesis.check
def front_door_error_body(ctx, response, case):
    """A 4xx or 5xx answer carries its front door's error body, with the answer's status where the body has one."""
    status = response.status_code
    # A method the document does not declare never reaches a function: API Gateway answers it, as the local
    # gateway does, with 404 {"message": "Not Found"}.
    if status < 400 or case.method.upper() != case.operation.method.upper():
        return None
    path = case.operation.path
    for prefix, shape, conforms in FRONT_DOORS:
        if path.startswith(prefix):
            try:
                body = response.json()
            except Exception:
                raise AssertionError(f"{status} without a JSON body; expected {shape}")
            if not isinstance(body, dict) or not conforms(body, status):
                raise AssertionError(f"{status} body is not {shape}: {response.text[:300]}")
            return None
    raise AssertionError(f"{case.operation.label} belongs to no known front door")
