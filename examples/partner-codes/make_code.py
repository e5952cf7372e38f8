#!/usr/bin/env python3
"""Makes Postern QR codes (credential format version 1) with a shared secret.

Python 3.6 or later, standard library only. Usage:

  python3 make_code.py link        ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
  python3 make_code.py online-link ISSUER SECRET_HEX SUBJECT SCOPE NOT_BEFORE NOT_AFTER|never
  python3 make_code.py rotating    ISSUER SECRET_HEX SUBJECT SCOPE [UNIX_TIME]
  python3 make_code.py rotating-key SECRET_HEX SUBJECT

Times are unix seconds. For a partner, ISSUER is its partner id and SECRET_HEX its shared
secret. A rotating code of issuer 0 is a site badge: SECRET_HEX is then that badge's own secret.
"""
import base64
import hashlib
import hmac
import struct
import sys
import time

KINDS = {"link": 0x01, "rotating": 0x02, "online-link": 0x03}
NO_END = 0xFFFFFFFF
PERIOD_SECONDS = 15


def make_code(key, kind, issuer, subject, a, b, scope):
    """The 24 signed bytes, their MAC (16 bytes), and the text: "P1." and 64 base32 characters."""
    # version, kind, issuer, subject, a, b, scope: big-endian, 1+1+2+8+4+4+4 bytes
    body = struct.pack(">BBHQIII", 0x01, KINDS[kind], issuer, subject, a, b, scope)
    mac = hmac.new(key, body, hashlib.sha256).digest()[:16]
    # 40 bytes are exactly 64 base32 characters: there is never any padding to strip.
    return "P1." + base64.b32encode(body + mac).decode("ascii").rstrip("=")


def rotating_key(partner_secret, subject):
    """The key of a partner's rotating credential: HMAC-SHA256(secret, "postern/rotating/v1" || subject)."""
    return hmac.new(partner_secret, b"postern/rotating/v1" + struct.pack(">Q", subject), hashlib.sha256).digest()


def make_link(secret, issuer, subject, scope, not_before, not_after=NO_END, online_only=False):
    """A link: valid from not_before to not_after (unix seconds; NO_END for no end)."""
    return make_code(secret, "online-link" if online_only else "link", issuer, subject, not_before, not_after, scope)


def make_rotating(secret, issuer, subject, scope, unix_seconds=None):
    """The rotating code of the 15-second step that holds unix_seconds (default: now)."""
    now = time.time() if unix_seconds is None else unix_seconds
    key = secret if issuer == 0 else rotating_key(secret, subject)
    return make_code(key, "rotating", issuer, subject, int(now // PERIOD_SECONDS), 0, scope)


def main(args):
    if len(args) == 3 and args[0] == "rotating-key":
        return rotating_key(bytes.fromhex(args[1]), int(args[2])).hex()
    if len(args) >= 5:
        command, issuer, secret, subject, scope = args[0], int(args[1]), bytes.fromhex(args[2]), int(args[3]), int(args[4])
        times = args[5:]
        if command in ("link", "online-link") and len(times) == 2:
            not_after = NO_END if times[1] == "never" else int(times[1])
            return make_link(secret, issuer, subject, scope, int(times[0]), not_after, command == "online-link")
        if command == "rotating" and len(times) <= 1:
            return make_rotating(secret, issuer, subject, scope, float(times[0]) if times else None)
    return None


if __name__ == "__main__":
    output = main(sys.argv[1:])
    if output is None:
        sys.exit(__doc__)
    print(output)
