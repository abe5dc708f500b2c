"""One-time slip codes (DOMAIN §7, R23).

A code is 17 random symbols (85 bits) of Crockford's base-32 alphabet plus one Luhn mod 32
check symbol, shown as three groups of six: ``7K3M9Q-XW2ZRT-H4D8PB``. Reading is
case-insensitive, ignores spaces and hyphens, and takes O for 0 and I/L for 1 as typed by
people copying from paper.

Codes are *derived* from the server's secret and a random per-slip nonce, and looked up by a
keyed digest. The database therefore holds only the nonce and the digest: without the secret
it can neither recover a printed code nor forge a valid one, yet the organizer can reprint a
lost sheet at any time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_VALUE.update({"O": 0, "I": 1, "L": 1})
RANDOM_SYMBOLS = 17  # 85 bits, above the required 80
CODE_LENGTH = RANDOM_SYMBOLS + 1
GROUP = 6
NONCE_BYTES = 16


class CodeError(ValueError):
    """A typed code that cannot be a slip code; ``str()`` is a Chinese message for the voter."""


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def check_symbol(payload: str) -> str:
    """Luhn mod N check symbol over base 32: catches every single mistyped symbol and every
    transposition of two adjacent symbols but (as with all mod-N Luhn) the pair that sums to N.
    """
    factor = 2
    total = 0
    n = len(ALPHABET)
    for ch in reversed(payload):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def derive_code(secret: bytes, nonce: bytes) -> str:
    """The canonical code (18 symbols, no separators) for a slip's nonce."""
    mac = hmac.new(secret, b"ceping-slip-code\x00" + nonce, hashlib.sha256).digest()
    number = int.from_bytes(mac, "big") >> (256 - 5 * RANDOM_SYMBOLS)
    symbols = []
    for _ in range(RANDOM_SYMBOLS):
        symbols.append(ALPHABET[number & 31])
        number >>= 5
    payload = "".join(reversed(symbols))
    return payload + check_symbol(payload)


def code_digest(secret: bytes, code: str) -> str:
    """Keyed digest under which a canonical code is stored and looked up."""
    return hmac.new(secret, b"ceping-slip-digest\x00" + code.encode("ascii"), hashlib.sha256).hexdigest()


def normalize(text: str) -> str:
    """Canonical form of a typed or scanned code.

    :raises CodeError: with a message that helps a person fix the typing.
    """
    cleaned = "".join(ch for ch in (text or "").upper() if not ch.isspace() and ch not in "-_.")
    if not cleaned:
        raise CodeError("请输入测评码")
    bad = sorted({ch for ch in cleaned if ch not in _VALUE})
    if bad:
        raise CodeError(f"测评码中不应有字符：{' '.join(bad)}")
    if len(cleaned) != CODE_LENGTH:
        raise CodeError(f"测评码应为 {CODE_LENGTH} 位，您输入了 {len(cleaned)} 位")
    canonical = "".join(ALPHABET[_VALUE[ch]] for ch in cleaned)
    if check_symbol(canonical[:-1]) != canonical[-1]:
        raise CodeError("测评码校验不通过，请核对是否有输错的字符")
    return canonical


def pretty(code: str) -> str:
    """Readable groups for printing: ``7K3M9Q-XW2ZRT-H4D8PB``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))
