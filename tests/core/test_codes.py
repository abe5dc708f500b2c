"""Slip codes (DOMAIN §7, R23): random, ≥ 80 bits, case-insensitive, with a check symbol."""

import itertools
import secrets

import pytest

from app.core import codes


def test_code_shape_and_entropy():
    code = codes.derive_code(b"secret", codes.new_nonce())
    assert len(code) == codes.CODE_LENGTH == 18
    assert 5 * codes.RANDOM_SYMBOLS >= 80
    assert set(code) <= set(codes.ALPHABET)
    assert codes.pretty(code).count("-") == 2


def test_reading_is_case_insensitive_and_forgiving():
    code = codes.derive_code(b"secret", b"n" * 16)
    typed = codes.pretty(code).lower().replace("-", " ")
    assert codes.normalize(typed) == code
    tricky = code.replace("0", "o").replace("1", "l")
    assert codes.normalize(tricky) == code


def test_every_single_mistyped_symbol_is_caught():
    """A mistyped character never yields a different valid code."""
    code = codes.derive_code(b"secret", b"x" * 16)
    for i, wrong in itertools.product(range(len(code)), codes.ALPHABET):
        if wrong == code[i]:
            continue
        typo = code[:i] + wrong + code[i + 1 :]
        with pytest.raises(codes.CodeError):
            codes.normalize(typo)


def test_most_adjacent_swaps_are_caught():
    caught = total = 0
    for _ in range(200):
        code = codes.derive_code(b"secret", secrets.token_bytes(16))
        for i in range(len(code) - 1):
            if code[i] == code[i + 1]:
                continue
            total += 1
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            try:
                codes.normalize(swapped)
            except codes.CodeError:
                caught += 1
    assert caught / total > 0.95


@pytest.mark.parametrize(("text", "message"), [("", "请输入"), ("ABC", "18 位"), ("ABCDEF-GHJKMN-PQRS!U", "不应有字符")])
def test_malformed_codes_explain_themselves(text, message):
    with pytest.raises(codes.CodeError, match=message):
        codes.normalize(text)


def test_codes_need_the_secret():
    """Without the secret the stored nonce and digest neither give nor check a code."""
    nonce = codes.new_nonce()
    code = codes.derive_code(b"secret-1", nonce)
    assert codes.derive_code(b"secret-2", nonce) != code
    assert codes.code_digest(b"secret-1", code) != codes.code_digest(b"secret-2", code)
    assert code not in codes.code_digest(b"secret-1", code)
