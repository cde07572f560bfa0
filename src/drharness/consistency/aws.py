"""boto3 error handling shared by the DynamoDB and S3 checks: one clear message per failure kind."""

from __future__ import annotations

from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from drharness.errors import BadInput, DrHarnessError, EnvironmentProblem

__all__ = ["error_code", "raise_clear"]

NOT_FOUND = {"ResourceNotFoundException", "NoSuchBucket", "TableNotFoundException", "NotFound", "404"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403",
          "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
          "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def raise_clear(exc: BaseException, what: str, region: str) -> NoReturn:
    """Map a boto3 failure on ``what`` (e.g. "DynamoDB table 'x'") in ``region`` to BadInput/EnvironmentProblem."""
    if isinstance(exc, DrHarnessError):
        raise exc
    code = error_code(exc)
    if code in NOT_FOUND:
        raise BadInput(f"{what} not found in {region}") from None
    if code in DENIED:
        raise EnvironmentProblem(f"access denied to {what} in {region} ({code}): the identity running the check "
                                 "needs read permissions on it") from None
    if isinstance(exc, BotoCoreError):  # connection refused/reset, timeouts: the endpoint is not answering
        raise EnvironmentProblem(f"{region} unreachable while reading {what}: {exc}") from None
    if isinstance(exc, ClientError):
        msg = exc.response.get("Error", {}).get("Message", "")
        raise EnvironmentProblem(f"{what} in {region}: {code or 'error'}: {msg}") from None
    raise EnvironmentProblem(f"{what} in {region}: {type(exc).__name__}: {exc}") from None
