"""Staff passwords: what a password must be, and its hash (argon2id by argon2-cffi).

The parameters are OWASP's recommended minimum for argon2id (19 MiB of memory, 2 passes,
1 lane): under a tenth of a second on a small server, paid once per sign-in, and little
memory on an edge box that also serves learners (argon2-cffi's default, RFC 9106's 64 MiB
and 4 lanes, took most of a second on two busy cores). A hash made with other parameters
still checks, and is replaced at the next right sign-in (`needs_rehash`), so changing
them later takes effect as people sign in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256  # hashing a megabyte costs the server; nobody types more

TIME_COST, MEMORY_KIB, LANES = 2, 19 * 1024, 1
_HASHER = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=LANES)
_DUMMY: list[str] = []  # a hash checked for unknown usernames, made on first use


def weakness(password: str, username: str = "") -> str | None:
    """Why `password` may not be used (one sentence), or None when it may: at least
    MIN_PASSWORD_CHARS characters, at most MAX_PASSWORD_CHARS, not one character
    repeated, and not containing the username."""
    if len(password) < MIN_PASSWORD_CHARS:
        return (f"the password has {len(password)} characters: at least "
                f"{MIN_PASSWORD_CHARS} are needed (a few words make a good one)")
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password is longer than {MAX_PASSWORD_CHARS} characters"
    if len(set(password)) == 1:
        return "the password is one character repeated"
    if username and username.lower() in password.lower():
        return "the password contains the username"
    return None


def hash_password(password: str) -> str:
    """The password's argon2id hash, salted, in PHC string form."""
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches the hash. With no hash (an unknown username), or a
    password longer than any that can be set, a dummy hash is checked all the same, so
    the answer takes as long either way, and the answer is no."""
    right_length = len(password) <= MAX_PASSWORD_CHARS  # no password set is longer
    if password_hash is None or not right_length:
        if not _DUMMY:
            _DUMMY.append(_HASHER.hash("no account has this password"))
        password_hash, right_length = _DUMMY[0], False
    try:
        return _HASHER.verify(password_hash, password[:MAX_PASSWORD_CHARS]) and right_length
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)
