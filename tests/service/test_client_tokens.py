"""Client tokens are signed with itsdangerous; tokens of the earlier home-made format (in students' cookies
when the server is upgraded) are still accepted; forged or foreign tokens are not."""

import base64
import hashlib
import hmac

from itsdangerous import Signer
from nnplayground.service.tokens import Identity

KEY = b"k" * 32


def _old_format(cid: str, key: bytes = KEY) -> str:
    """A token as the version before itsdangerous minted it (a copy of its signing rule)."""
    mac = hmac.new(key, ("client:" + cid).encode(), hashlib.sha256).digest()[:18]
    return f"{cid}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def test_new_tokens_are_itsdangerous_signatures_of_the_client_id():
    ident = Identity(KEY, "")
    cid, token = ident.new_token()
    assert ident.client_of(token) == cid
    signer = Signer(KEY, salt="nnplayground.client-token", digest_method=hashlib.sha256)
    assert signer.unsign(token).decode() == cid


def test_tokens_of_the_earlier_format_still_identify_their_client():
    ident = Identity(KEY, "")
    cid = "0123456789abcdef01234567"
    assert ident.client_of(_old_format(cid)) == cid


def test_forged_and_foreign_tokens_are_refused():
    ident = Identity(KEY, "")
    cid, token = ident.new_token()
    last = "A" if token[-1] != "A" else "B"
    assert ident.client_of(token[:-1] + last) is None  # a changed signature
    assert ident.client_of("fedcba9876543210fedcba98" + token[24:]) is None  # another id, this signature
    assert Identity(b"j" * 32, "").client_of(token) is None  # another server's key
    assert Identity(b"j" * 32, "").client_of(_old_format(cid)) is None
    assert ident.client_of("not-a-token") is None and ident.client_of(None) is None
