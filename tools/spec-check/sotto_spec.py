"""Independent Python implementation of the Sotto protocol v1, written from
docs/protocol.md alone (no Rust code consulted).

Section numbers in comments refer to docs/protocol.md.
"""
from __future__ import annotations

import copy
import hashlib
import hmac as _hmac
from dataclasses import dataclass, field
from typing import Optional

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF as _HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kyber_py.ml_kem import ML_KEM_1024


class SottoError(Exception):
    """An error named in §10, e.g. SottoError('KeyError', 'SmallOrder')."""

    def __init__(self, kind: str, variant: str, detail: str = ""):
        super().__init__(f"{kind}::{variant}" + (f" ({detail})" if detail else ""))
        self.kind = kind
        self.variant = variant


# ---------------------------------------------------------------- §1 primitives

LABEL_IDENTITY_BINDING = b"Sotto_v1_IdentityBinding"
LABEL_SIGNED_PREKEY = b"Sotto_v1_SignedPreKey"
LABEL_KEM_PREKEY = b"Sotto_v1_KemPreKey"
LABEL_TRANSCRIPT = b"Sotto_PQXDH_Transcript_v1"
LABEL_PQXDH_INFO = b"Sotto_PQXDH_X25519_SHA-256_ML-KEM-1024"
LABEL_ROOT = b"Sotto_Ratchet_Root_v1"
LABEL_MESSAGE_KEYS = b"Sotto_Ratchet_MessageKeys_v1"
SAFETY_VERSION = b"\x00\x01"


def u32be(x: int) -> bytes:
    return x.to_bytes(4, "big")


def hkdf(salt: Optional[bytes], ikm: bytes, info: bytes, length: int) -> bytes:
    if salt is None:  # "A salt of 'none' is 32 zero bytes."
        salt = bytes(32)
    return _HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac256(key: bytes, data: bytes) -> bytes:
    return _hmac.new(key, data, hashlib.sha256).digest()


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def sha512(b: bytes) -> bytes:
    return hashlib.sha512(b).digest()


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # cryptography's CTR mode increments the whole 16-byte block as one
    # 128-bit big-endian integer, as §1 requires.
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def x25519_public(priv: bytes) -> bytes:
    """Raw 32-byte u-coordinate of a private key (clamped when used, RFC 7748)."""
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def dh(priv: bytes, pub_typed_or_raw: bytes) -> bytes:
    pub = pub_typed_or_raw[1:] if len(pub_typed_or_raw) == 33 else pub_typed_or_raw
    # cryptography/OpenSSL itself refuses an all-zero result with ValueError;
    # map both to the spec's error.
    try:
        out = X25519PrivateKey.from_private_bytes(priv).exchange(
            X25519PublicKey.from_public_bytes(pub))
    except ValueError:
        raise SottoError("KeyError", "NonContributory")
    if _hmac.compare_digest(out, bytes(32)):
        raise SottoError("KeyError", "NonContributory")
    return out


# ------------------------------------------------- Curve25519 / Ed25519 maths
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _ed_add(p1, p2):
    (x1, y1, z1, t1), (x2, y2, z2, t2) = p1, p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _ed_mul(k, pt):
    acc = (0, 1, 1, 0)
    while k:
        if k & 1:
            acc = _ed_add(acc, pt)
        pt = _ed_add(pt, pt)
        k >>= 1
    return acc


def _ed_is_identity(pt):
    x, y, z, _ = pt
    return x % P == 0 and (y - z) % P == 0


def _ed_recover_x(y: int, sign: int) -> Optional[int]:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def ed_decompress(b: bytes):
    """RFC 8032 decoding, refusing y >= p and the "negative zero" x (sign 1, x = 0):
    the point is returned only if `b` is its canonical encoding."""
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _ed_recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ed_encode(pt) -> bytes:
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ed_neg(pt):
    x, y, z, t = pt
    return ((-x) % P, y, z, (-t) % P)


def ed_is_small_order(pt) -> bool:
    return _ed_is_identity(_ed_mul(8, pt))


_BY = 4 * pow(5, P - 2, P) % P
ED_B = (_ed_recover_x(_BY, 0), _BY, 1, _ed_recover_x(_BY, 0) * _BY % P)


def x25519_u_is_torsion_free(u: int) -> bool:
    """§2 step 4: the Edwards point from u with sign 0 exists and has order L."""
    if (u + 1) % P == 0:
        return False
    y = (u - 1) * pow(u + 1, P - 2, P) % P
    x = _ed_recover_x(y, 0)
    if x is None:
        return False
    pt = (x, y, 1, x * y % P)
    return _ed_is_identity(_ed_mul(L, pt))


def ed_public_key_ok(a32: bytes) -> bool:
    """§1/§3: A is the canonical encoding of a point not of small order."""
    A = ed_decompress(a32)
    return A is not None and not ed_is_small_order(A)


def verify_strict(pub32: bytes, msg: bytes, sig: bytes) -> bool:
    """§1 strict Ed25519 verification, implemented here from the text (not delegated):
    A canonical and not of small order; s < L; R decompresses to a point not of small
    order; k = SHA512(R || A || m) mod L over the received bytes; the canonical encoding of
    [s]B - [k]A equals R byte for byte (cofactorless)."""
    if len(sig) != 64 or len(pub32) != 32:
        return False
    A = ed_decompress(pub32)
    if A is None or ed_is_small_order(A):
        return False
    r_bytes, s = sig[:32], int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    R = ed_decompress(r_bytes)
    if R is None or ed_is_small_order(R):
        return False
    k = int.from_bytes(sha512(r_bytes + pub32 + msg), "little") % L
    q = _ed_add(_ed_mul(s, ED_B), ed_neg(_ed_mul(k, A)))
    return _hmac.compare_digest(ed_encode(q), r_bytes)


# -------------------------------------------------------------- §2 encodings
SMALL_ORDER_U = {bytes.fromhex(h) for h in (
    "00" * 32,
    "01" + "00" * 31,
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
)}


def ec_public_typed(priv: bytes) -> bytes:
    return b"\x05" + x25519_public(priv)


def validate_ec_public(b: bytes, torsion_free: bool = False) -> bytes:
    if len(b) != 33:
        raise SottoError("KeyError", "WrongLength")
    if b[0] != 0x05:
        raise SottoError("KeyError", "WrongType")
    u = int.from_bytes(b[1:], "little")
    if u >> 255 or u >= P:
        raise SottoError("KeyError", "NonCanonical")
    if b[1:] in SMALL_ORDER_U:
        raise SottoError("KeyError", "SmallOrder")
    if torsion_free and not x25519_u_is_torsion_free(u):
        raise SottoError("KeyError", "NotTorsionFree")
    return b


def validate_kem_public(b: bytes) -> bytes:
    if len(b) != 1569:
        raise SottoError("KeyError", "WrongLength")
    if b[0] != 0x0A:
        raise SottoError("KeyError", "WrongType")
    t = b[1:1 + 1536]
    for i in range(0, 1536, 3):
        c0 = t[i] | ((t[i + 1] & 0x0F) << 8)
        c1 = (t[i + 1] >> 4) | (t[i + 2] << 4)
        if c0 >= 3329 or c1 >= 3329:
            raise SottoError("KeyError", "InvalidKemKey")
    return b


def validate_kem_ciphertext(b: bytes) -> bytes:
    if len(b) != 1569:
        raise SottoError("KeyError", "WrongLength")
    if b[0] != 0x0B:
        raise SottoError("KeyError", "WrongType")
    return b


# ---------------------------------------------------------- §3 identity keys
@dataclass
class Identity:
    ed_seed: bytes
    x_priv: bytes

    @classmethod
    def from_secret(cls, secret64: bytes) -> "Identity":
        assert len(secret64) == 64
        return cls(secret64[:32], secret64[32:])

    @property
    def ed_public(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.ed_seed).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)

    @property
    def x_public(self) -> bytes:
        return x25519_public(self.x_priv)

    def sign(self, msg: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.ed_seed).sign(msg)

    @property
    def binding_sig(self) -> bytes:
        return self.sign(LABEL_IDENTITY_BINDING + b"\x05" + self.x_public)

    @property
    def identity_keys(self) -> bytes:  # IK, 65 bytes
        return b"\x21" + self.ed_public + self.x_public

    @property
    def encoded(self) -> bytes:  # 129 bytes
        return self.identity_keys + self.binding_sig


@dataclass
class PublicIdentity:
    encoded: bytes

    @property
    def ed_public(self):
        return self.encoded[1:33]

    @property
    def x_public_typed(self):
        return b"\x05" + self.encoded[33:65]

    @property
    def identity_keys(self):
        return self.encoded[:65]


def decode_identity(b: bytes) -> PublicIdentity:
    if len(b) != 129:
        raise SottoError("KeyError", "WrongLength")
    if b[0] != 0x21:
        raise SottoError("KeyError", "WrongType")
    if not ed_public_key_ok(b[1:33]):  # decompresses, not small order, canonical (y < p)
        raise SottoError("KeyError", "InvalidSigningKey")
    validate_ec_public(b"\x05" + b[33:65])
    if not verify_strict(b[1:33], LABEL_IDENTITY_BINDING + b"\x05" + b[33:65], b[65:]):
        raise SottoError("KeyError", "BadSignature")
    return PublicIdentity(bytes(b))


# -------------------------------------------------------------- §4 addresses
def address(account: bytes, device: int) -> bytes:
    assert 1 <= len(account) <= 64
    return bytes([len(account)]) + account + u32be(device)


# ------------------------------------------------------------ protobuf (proto3)
def enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def dec_varint(b: bytes, i: int):
    shift = v = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def pb_parse(b: bytes) -> dict:
    """field number -> list of values (int for varint, bytes for len-delimited).
    Unknown wire types 1/5 are skipped; groups are refused."""
    out: dict = {}
    i = 0
    while i < len(b):
        key, i = dec_varint(b, i)
        fno, wt = key >> 3, key & 7
        if fno == 0:
            raise ValueError("field 0")
        if wt == 0:
            v, i = dec_varint(b, i)
        elif wt == 2:
            n, i = dec_varint(b, i)
            if i + n > len(b):
                raise ValueError("truncated bytes")
            v, i = bytes(b[i:i + n]), i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        if i > len(b):
            raise ValueError("truncated")
        out.setdefault(fno, []).append((wt, v))
    return out


def pb_bytes(m: dict, f: int, default=b"") -> bytes:
    vals = [v for wt, v in m.get(f, []) if wt == 2]
    return vals[-1] if vals else default


def pb_uint(m: dict, f: int, default=0) -> int:
    vals = [v for wt, v in m.get(f, []) if wt == 0]
    return (vals[-1] & 0xFFFFFFFF) if vals else default


def pb_has(m: dict, f: int) -> bool:
    return f in m


def pb_repeated(m: dict, f: int) -> list:
    return [v for wt, v in m.get(f, []) if wt == 2]


def pb_field_bytes(f: int, v: bytes, emit_empty=False) -> bytes:
    if not v and not emit_empty:
        return b""
    return enc_varint(f << 3 | 2) + enc_varint(len(v)) + v


def pb_field_uint(f: int, v: int, explicit=False) -> bytes:
    if v == 0 and not explicit:
        return b""
    return enc_varint(f << 3) + enc_varint(v)


# ---------------------------------------------------------------- §5 prekeys
@dataclass
class SignedPreKey:
    id: int
    priv: bytes

    @property
    def public(self):
        return ec_public_typed(self.priv)


@dataclass
class OneTimePreKey:
    id: int
    priv: bytes

    @property
    def public(self):
        return ec_public_typed(self.priv)


@dataclass
class KemPreKey:
    id: int
    kind: int  # 1 one-time, 2 last resort
    seed: bytes

    def keys(self):
        ek, dk = ML_KEM_1024._keygen_internal(self.seed[:32], self.seed[32:])
        return ek, dk

    @property
    def public(self):
        return b"\x0A" + self.keys()[0]


def spk_signature(ident: Identity, spk: SignedPreKey) -> bytes:
    return ident.sign(LABEL_SIGNED_PREKEY + u32be(spk.id) + spk.public)


def kem_signature(ident: Identity, kpk: KemPreKey, public: bytes) -> bytes:
    return ident.sign(LABEL_KEM_PREKEY + bytes([kpk.kind]) + u32be(kpk.id) + public)


def encode_bundle(ident: Identity, spk: SignedPreKey, opk: Optional[OneTimePreKey],
                  kpk: KemPreKey) -> bytes:
    kem_pub = kpk.public
    spk_msg = (pb_field_uint(1, spk.id) + pb_field_bytes(2, spk.public)
               + pb_field_bytes(3, spk_signature(ident, spk)))
    out = pb_field_bytes(1, ident.encoded) + pb_field_bytes(2, spk_msg, True)
    if opk is not None:
        out += pb_field_bytes(3, pb_field_uint(1, opk.id) + pb_field_bytes(2, opk.public), True)
    kem_msg = (pb_field_uint(1, kpk.id) + pb_field_uint(2, kpk.kind) + pb_field_bytes(3, kem_pub)
               + pb_field_bytes(4, kem_signature(ident, kpk, kem_pub)))
    out += pb_field_bytes(4, kem_msg, True)
    return out


@dataclass
class VerifiedBundle:
    identity: PublicIdentity
    spk_id: int
    spk: bytes
    opk_id: Optional[int]
    opk: Optional[bytes]
    kem_id: int
    kem_kind: int
    kem: bytes


def verify_bundle(b: bytes) -> VerifiedBundle:
    E = "BundleError"
    try:
        m = pb_parse(b)
    except ValueError as e:
        raise SottoError(E, "Malformed", str(e))
    try:
        ident = decode_identity(pb_bytes(m, 1))
    except SottoError as e:
        raise SottoError(E, "Key", f'identity key: {e}')
    if not pb_has(m, 2):
        raise SottoError(E, "Missing", "signed_pre_key")
    try:
        s = pb_parse(pb_bytes(m, 2))
        o = pb_parse(pb_bytes(m, 3)) if pb_has(m, 3) else None
        k = pb_parse(pb_bytes(m, 4)) if pb_has(m, 4) else None
    except ValueError as e:
        raise SottoError(E, "Malformed", str(e))
    spk_id, spk = pb_uint(s, 1), pb_bytes(s, 2)
    try:
        validate_ec_public(spk)
    except SottoError as e:
        raise SottoError(E, "Key", f"signed prekey: {e}")
    if not verify_strict(ident.ed_public, LABEL_SIGNED_PREKEY + u32be(spk_id) + spk, pb_bytes(s, 3)):
        raise SottoError(E, "Key", "signed prekey: BadSignature")
    opk_id = opk = None
    if o is not None:
        opk_id, opk = pb_uint(o, 1), pb_bytes(o, 2)
        try:
            validate_ec_public(opk)
        except SottoError as e:
            raise SottoError(E, "Key", f"one-time prekey: {e}")
    if k is None:
        raise SottoError(E, "Missing", "kem_pre_key")
    kind = pb_uint(k, 2)
    if kind not in (1, 2):
        raise SottoError(E, "UnknownKemKind")
    kem_id, kem = pb_uint(k, 1), pb_bytes(k, 3)
    if not verify_strict(ident.ed_public, LABEL_KEM_PREKEY + bytes([kind]) + u32be(kem_id) + kem,
                         pb_bytes(k, 4)):
        raise SottoError(E, "Key", "kem prekey: BadSignature")
    try:
        validate_kem_public(kem)
    except SottoError as e:
        raise SottoError(E, "Key", f"kem prekey: {e}")
    return VerifiedBundle(ident, spk_id, spk, opk_id, opk, kem_id, kind, kem)


# ----------------------------------------------------------------- §5.3 PQXDH
def transcript_hash(ik_a: bytes, ik_b: bytes, addr_a: bytes, addr_b: bytes, ek_a: bytes,
                    spk_b: bytes, opk_b: Optional[bytes], pqpk_b: bytes, ct: bytes) -> bytes:
    opk_part = (b"\x01" + opk_b) if opk_b is not None else b"\x00"
    return sha256(LABEL_TRANSCRIPT + ik_a + ik_b + addr_a + addr_b + ek_a + spk_b + opk_part
                  + pqpk_b + ct)


def pqxdh_sk(dhs: list, ss: bytes, t: bytes) -> bytes:
    ikm = b"\xff" * 32 + b"".join(dhs) + ss
    return hkdf(bytes(32), ikm, LABEL_PQXDH_INFO + t, 32)


# ----------------------------------------------------------- §6 Double Ratchet
def root_step(rk: bytes, dh_out: bytes):
    out = hkdf(rk, dh_out, LABEL_ROOT, 64)
    return out[:32], out[32:]


def chain_step(ck: bytes):
    """returns (message key seed, next chain key)"""
    return hmac256(ck, b"\x01"), hmac256(ck, b"\x02")


def message_keys(seed: bytes):
    out = hkdf(None, seed, LABEL_MESSAGE_KEYS, 80)
    return out[:32], out[32:64], out[64:80]


PAD_BLOCK = 160
MAX_JUMP = 25_000
MAX_SKIPPED = 2_000
MAX_CHAINS = 5
MAX_ARCHIVED = 40


def pad(pt: bytes) -> bytes:
    n = PAD_BLOCK - (len(pt) % PAD_BLOCK)  # 1..160 bytes added
    return pt + b"\x80" + bytes(n - 1)


def unpad(p: bytes) -> bytes:
    """§6.3: non-zero multiple of 160; strip trailing zeros; 0x80 before them; at most
    160 bytes removed in all, the 0x80 included [BadPadding]."""
    if not p or len(p) % PAD_BLOCK:
        raise SottoError("DecryptError", "BadPadding")
    j = len(p)
    while j > 0 and p[j - 1] == 0:
        j -= 1
    if j == 0 or p[j - 1] != 0x80 or len(p) - (j - 1) > PAD_BLOCK:
        raise SottoError("DecryptError", "BadPadding")
    return p[:j - 1]


def encode_ratchet_body(ratchet_key: bytes, counter: int, pn: int, ciphertext: bytes) -> bytes:
    return b"\x11" + (pb_field_bytes(1, ratchet_key) + pb_field_uint(2, counter)
                      + pb_field_uint(3, pn) + pb_field_bytes(4, ciphertext))


@dataclass
class RatchetMessage:
    body: bytes
    ratchet_key: bytes
    counter: int
    previous_counter: int
    ciphertext: bytes
    tag: bytes


def _check_header(msg: bytes):
    E = "DecryptError"
    if not msg:
        raise SottoError(E, "Empty")
    v, t = msg[0] >> 4, msg[0] & 0xF
    if v != 1:
        raise SottoError(E, "UnknownVersion", str(v))
    if t not in (1, 2):
        raise SottoError(E, "UnknownMessageType", str(t))
    return t


def parse_ratchet_message(msg: bytes) -> RatchetMessage:
    E = "DecryptError"
    t = _check_header(msg)
    if t != 1:
        raise SottoError(E, "UnknownMessageType", str(t))
    # Spec: "at least 33 bytes": 1 type byte + 32 tag.
    if len(msg) < 33:
        raise SottoError(E, "Malformed")
    body, tag = msg[:-32], msg[-32:]
    try:
        m = pb_parse(body[1:])
    except ValueError as e:
        raise SottoError(E, "Malformed", str(e))
    rk = pb_bytes(m, 1)
    try:
        validate_ec_public(rk)
    except SottoError as e:
        raise SottoError(E, "Key", str(e))
    ct = pb_bytes(m, 4)
    if not ct:
        raise SottoError(E, "Malformed", "empty ciphertext")
    return RatchetMessage(body, rk, pb_uint(m, 2), pb_uint(m, 3), ct, tag)


@dataclass
class PreKeyMessage:
    identity_key: bytes
    base_key: bytes
    signed_pre_key_id: int
    one_time_pre_key_id: Optional[int]
    kem_pre_key_id: int
    kem_ciphertext: bytes
    message: bytes


def encode_prekey_message(p: PreKeyMessage) -> bytes:
    out = (pb_field_bytes(1, p.identity_key) + pb_field_bytes(2, p.base_key)
           + pb_field_uint(3, p.signed_pre_key_id))
    if p.one_time_pre_key_id is not None:  # proto3 `optional`: explicit presence
        out += pb_field_uint(4, p.one_time_pre_key_id, explicit=True)
    out += (pb_field_uint(5, p.kem_pre_key_id) + pb_field_bytes(6, p.kem_ciphertext)
            + pb_field_bytes(7, p.message))
    return b"\x12" + out


def parse_prekey_message(msg: bytes) -> PreKeyMessage:
    E = "DecryptError"
    t = _check_header(msg)
    if t != 2:
        raise SottoError(E, "UnknownMessageType", str(t))
    try:
        m = pb_parse(msg[1:])
    except ValueError as e:
        raise SottoError(E, "Malformed", str(e))
    try:
        decode_identity(pb_bytes(m, 1))
        validate_ec_public(pb_bytes(m, 2), torsion_free=True)
        validate_kem_ciphertext(pb_bytes(m, 6))
    except SottoError as e:
        raise SottoError(E, "Key", str(e))
    return PreKeyMessage(pb_bytes(m, 1), pb_bytes(m, 2), pb_uint(m, 3),
                         pb_uint(m, 4) if pb_has(m, 4) else None, pb_uint(m, 5),
                         pb_bytes(m, 6), pb_bytes(m, 7))


@dataclass
class Chain:
    key: bytes
    index: int


@dataclass
class ReceivingChain:
    ratchet_key: bytes
    chain: Chain
    skipped: list  # of (index, seed), oldest first


@dataclass
class Pending:
    local_identity: bytes
    signed_pre_key_id: int
    one_time_pre_key_id: Optional[int]
    kem_pre_key_id: int
    kem_ciphertext: bytes


@dataclass
class Session:
    associated_data: bytes
    remote_identity: bytes
    base_key: bytes
    root_key: bytes
    our_ratchet_private: bytes
    our_ratchet_public: bytes
    sending_chain: Optional[Chain] = None
    previous_counter: int = 0
    receiving_chains: list = field(default_factory=list)
    pending_pre_key: Optional[Pending] = None

    # ---- §6.5 sending
    def encrypt(self, plaintext: bytes, rand32) -> bytes:
        if self.sending_chain is None:
            if not self.receiving_chains:
                raise SottoError("EncryptError", "NoSendingChain")
            dhr = self.receiving_chains[-1].ratchet_key
            priv = rand32()
            pub = ec_public_typed(priv)
            rk, ck = root_step(self.root_key, dh(priv, dhr))
            self.our_ratchet_private, self.our_ratchet_public = priv, pub
            self.root_key, self.sending_chain = rk, Chain(ck, 0)
        ch = self.sending_chain
        if ch.index == 0xFFFFFFFF:
            raise SottoError("EncryptError", "ChainExhausted")
        seed, nck = chain_step(ch.key)
        ck_, mk, iv = message_keys(seed)
        body = encode_ratchet_body(self.our_ratchet_public, ch.index, self.previous_counter,
                                   aes_ctr(ck_, iv, pad(plaintext)))
        msg = body + hmac256(mk, self.associated_data + body)
        self.sending_chain = Chain(nck, ch.index + 1)
        if self.pending_pre_key is not None:
            p = self.pending_pre_key
            msg = encode_prekey_message(PreKeyMessage(
                p.local_identity, self.base_key, p.signed_pre_key_id, p.one_time_pre_key_id,
                p.kem_pre_key_id, p.kem_ciphertext, msg))
        return msg

    # ---- §6.6 receiving; returns plaintext, commits only on success
    def decrypt(self, msg: bytes) -> bytes:
        rm = parse_ratchet_message(msg) if isinstance(msg, (bytes, bytearray)) else msg
        new = copy.deepcopy(self)
        chain = next((c for c in new.receiving_chains if c.ratchet_key == rm.ratchet_key), None)
        if chain is not None:
            if rm.counter < chain.chain.index:
                hit = [s for s in chain.skipped if s[0] == rm.counter]
                if not hit:
                    raise SottoError("DecryptError", "Duplicate", str(rm.counter))
                seed = hit[0][1]
                chain.skipped.remove(hit[0])
            else:
                seed = _derive_forward(chain, rm.counter)
        else:
            if rm.counter > MAX_JUMP:
                raise SottoError("DecryptError", "CounterJumpTooLarge")
            rk, ck = root_step(new.root_key, dh(new.our_ratchet_private, rm.ratchet_key))
            chain = ReceivingChain(rm.ratchet_key, Chain(ck, 0), [])
            seed = _derive_forward(chain, rm.counter)
            new.root_key = rk
            # §6.6 PN rule: PN = Ns of the sending chain if one exists (and drop it, so the
            # next send ratchets); otherwise PN is unchanged.
            if new.sending_chain is not None:
                new.previous_counter = new.sending_chain.index
                new.sending_chain = None
            new.receiving_chains.append(chain)
            del new.receiving_chains[:-MAX_CHAINS]
        ck_, mk, iv = message_keys(seed)
        if not _hmac.compare_digest(hmac256(mk, new.associated_data + rm.body), rm.tag):
            raise SottoError("DecryptError", "BadMac")
        pt = unpad(aes_ctr(ck_, iv, rm.ciphertext))
        new.pending_pre_key = None
        self.__dict__.update(new.__dict__)
        return pt


def _derive_forward(chain: ReceivingChain, counter: int) -> bytes:
    if counter - chain.chain.index > MAX_JUMP:
        raise SottoError("DecryptError", "CounterJumpTooLarge")
    ck, n = chain.chain.key, chain.chain.index
    while n < counter:
        seed, ck = chain_step(ck)
        chain.skipped.append((n, seed))
        n += 1
    seed, ck = chain_step(ck)
    chain.chain = Chain(ck, counter + 1)
    del chain.skipped[:-MAX_SKIPPED]
    return seed


# ------------------------------------------------------ PQXDH + ratchet start
@dataclass
class Device:
    identity: Identity
    account: bytes
    device: int
    spks: dict = field(default_factory=dict)
    opks: dict = field(default_factory=dict)
    kpks: dict = field(default_factory=dict)
    last_resort_used: set = field(default_factory=set)  # {(kem_pre_key_id, base_key)}

    @property
    def address(self):
        return address(self.account, self.device)

    def apply_prekey_use(self, use: "PreKeyUse"):
        """§5.3 step 7, done by the caller in the transaction that stores the record."""
        if use.one_time_pre_key_id is not None:
            del self.opks[use.one_time_pre_key_id]
        if self.kpks[use.kem_pre_key_id].kind == 1:
            del self.kpks[use.kem_pre_key_id]
        else:
            self.last_resort_used.add((use.kem_pre_key_id, use.base_key))


@dataclass
class PreKeyUse:
    signed_pre_key_id: int
    one_time_pre_key_id: Optional[int]
    kem_pre_key_id: int
    base_key: bytes


@dataclass
class InitiatorTrace:
    ek_priv: bytes
    m: bytes
    ratchet_priv: bytes
    dhs: list
    ss: bytes
    ct: bytes
    t: bytes
    sk: bytes


def initiate(alice: Device, bob_addr: bytes, bundle: bytes, rand32) -> tuple:
    vb = verify_bundle(bundle)
    ek_priv = rand32()
    ek_pub = ec_public_typed(ek_priv)
    dhs = [dh(alice.identity.x_priv, vb.spk), dh(ek_priv, vb.identity.x_public_typed),
           dh(ek_priv, vb.spk)]
    if vb.opk is not None:
        dhs.append(dh(ek_priv, vb.opk))
    m = rand32()
    ss, ct_raw = ML_KEM_1024._encaps_internal(vb.kem[1:], m)
    ct = b"\x0B" + ct_raw
    t = transcript_hash(alice.identity.encoded, vb.identity.encoded, alice.address, bob_addr,
                        ek_pub, vb.spk, vb.opk, vb.kem, ct)
    sk = pqxdh_sk(dhs, ss, t)
    r_priv = rand32()
    rk, cks = root_step(sk, dh(r_priv, vb.spk))
    s = Session(t, vb.identity.encoded, ek_pub, rk, r_priv, ec_public_typed(r_priv),
                Chain(cks, 0), 0, [],
                Pending(alice.identity.encoded, vb.spk_id, vb.opk_id, vb.kem_id, ct))
    return s, InitiatorTrace(ek_priv, m, r_priv, dhs, ss, ct, t, sk)


@dataclass
class ResponderTrace:
    dhs: list
    ss: bytes
    t: bytes
    sk: bytes
    use: PreKeyUse


def respond(bob: Device, alice_addr: bytes, msg):
    """§5.3 responder steps 1 and 3-6 on a new session (step 2, the repeated-prekey-message
    routing, is the record's: Record.decrypt). Changes nothing; the caller applies the
    returned PreKeyUse (step 7)."""
    pm = parse_prekey_message(msg) if isinstance(msg, (bytes, bytearray)) else msg
    E = "DecryptError"
    spk = bob.spks.get(pm.signed_pre_key_id)
    if spk is None:
        raise SottoError(E, "UnknownSignedPreKey")
    opk = None
    if pm.one_time_pre_key_id is not None:
        opk = bob.opks.get(pm.one_time_pre_key_id)
        if opk is None:
            raise SottoError(E, "UnknownOneTimePreKey")
    kpk = bob.kpks.get(pm.kem_pre_key_id)
    if kpk is None:
        raise SottoError(E, "UnknownKemPreKey")
    if kpk.kind == 2 and (pm.kem_pre_key_id, pm.base_key) in bob.last_resort_used:
        raise SottoError(E, "ReplayedPreKeyMessage")
    alice_ident = PublicIdentity(pm.identity_key)  # decoded (§3) in step 1
    dhs = [dh(spk.priv, alice_ident.x_public_typed), dh(bob.identity.x_priv, pm.base_key),
           dh(spk.priv, pm.base_key)]
    if opk is not None:
        dhs.append(dh(opk.priv, pm.base_key))
    ek, dk = kpk.keys()
    ss = ML_KEM_1024._decaps_internal(dk, pm.kem_ciphertext[1:])
    t = transcript_hash(pm.identity_key, bob.identity.encoded, alice_addr, bob.address,
                        pm.base_key, spk.public, opk.public if opk else None, b"\x0A" + ek,
                        pm.kem_ciphertext)
    sk = pqxdh_sk(dhs, ss, t)
    s = Session(t, pm.identity_key, pm.base_key, sk, spk.priv, spk.public)
    pt = s.decrypt(pm.message)
    use = PreKeyUse(pm.signed_pre_key_id, pm.one_time_pre_key_id, pm.kem_pre_key_id,
                    pm.base_key)
    return s, pt, pm, ResponderTrace(dhs, ss, t, sk, use)


# --------------------------------------------------------------- §8.1 records
def _parse_chain(b: bytes) -> Chain:
    m = pb_parse(b)
    key = pb_bytes(m, 1)
    if len(key) != 32:
        raise SottoError("RecordError", "Corrupt", "chain key length")
    return Chain(key, pb_uint(m, 2))


def _record_key(fn, *args):
    try:
        return fn(*args)
    except SottoError as e:
        raise SottoError("RecordError", "Key", str(e))


def _exact(b: bytes, n: int, what: str) -> bytes:
    if len(b) != n:
        raise SottoError("RecordError", "Corrupt", f"{what}: {len(b)} bytes, want {n}")
    return b


def parse_session(b: bytes) -> Session:
    """§8.1: every field parsed as on the wire (keys validated, lengths exact, §6.7 limits).
    The stored public ratchet key is trusted to match the private one (not recomputed)."""
    m = pb_parse(b)
    ad = _exact(pb_bytes(m, 1), 32, "associated_data")
    rid = pb_bytes(m, 2)
    _record_key(decode_identity, rid)
    base = pb_bytes(m, 3)
    _record_key(validate_ec_public, base, True)  # a base key, as in a prekey message (§5.3)
    rk = _exact(pb_bytes(m, 4), 32, "root_key")
    priv = _exact(pb_bytes(m, 5), 32, "our_ratchet_private")
    pub = pb_bytes(m, 6)
    _record_key(validate_ec_public, pub)
    sending = _parse_chain(pb_bytes(m, 7)) if pb_has(m, 7) else None
    chains = []
    for cb in pb_repeated(m, 9):
        cm = pb_parse(cb)
        rkey = pb_bytes(cm, 1)
        _record_key(validate_ec_public, rkey)
        skipped = []
        for sb in pb_repeated(cm, 3):
            sm = pb_parse(sb)
            skipped.append((pb_uint(sm, 1), _exact(pb_bytes(sm, 2), 32, "skipped seed")))
        if len(skipped) > MAX_SKIPPED:
            raise SottoError("RecordError", "Corrupt", "too many skipped keys")
        chains.append(ReceivingChain(rkey, _parse_chain(pb_bytes(cm, 2)), skipped))
    if len(chains) > MAX_CHAINS:
        raise SottoError("RecordError", "Corrupt", "too many receiving chains")
    pending = None
    if pb_has(m, 10):
        pm = pb_parse(pb_bytes(m, 10))
        lid, ct = pb_bytes(pm, 1), pb_bytes(pm, 5)
        _record_key(decode_identity, lid)
        _record_key(validate_kem_ciphertext, ct)
        pending = Pending(lid, pb_uint(pm, 2), pb_uint(pm, 3) if pb_has(pm, 3) else None,
                          pb_uint(pm, 4), ct)
    return Session(ad, rid, base, rk, priv, pub, sending, pb_uint(m, 8), chains, pending)


def encode_session(s: Session) -> bytes:
    out = (pb_field_bytes(1, s.associated_data) + pb_field_bytes(2, s.remote_identity)
           + pb_field_bytes(3, s.base_key) + pb_field_bytes(4, s.root_key)
           + pb_field_bytes(5, s.our_ratchet_private) + pb_field_bytes(6, s.our_ratchet_public))
    if s.sending_chain is not None:
        out += pb_field_bytes(7, pb_field_bytes(1, s.sending_chain.key)
                              + pb_field_uint(2, s.sending_chain.index), True)
    out += pb_field_uint(8, s.previous_counter)
    for c in s.receiving_chains:
        inner = pb_field_bytes(1, c.ratchet_key) + pb_field_bytes(
            2, pb_field_bytes(1, c.chain.key) + pb_field_uint(2, c.chain.index), True)
        for idx, seed in c.skipped:
            inner += pb_field_bytes(3, pb_field_uint(1, idx) + pb_field_bytes(2, seed), True)
        out += pb_field_bytes(9, inner, True)
    if s.pending_pre_key is not None:
        p = s.pending_pre_key
        inner = pb_field_bytes(1, p.local_identity) + pb_field_uint(2, p.signed_pre_key_id)
        if p.one_time_pre_key_id is not None:
            inner += pb_field_uint(3, p.one_time_pre_key_id, explicit=True)
        inner += pb_field_uint(4, p.kem_pre_key_id) + pb_field_bytes(5, p.kem_ciphertext)
        out += pb_field_bytes(10, inner, True)
    return out


@dataclass
class Record:
    """§8: one current session and up to 40 archived ones, most recent first."""
    current: Optional[Session]
    archived: list

    def _make_current(self, s: Session, replaced_index: Optional[int] = None):
        """s becomes current, the previous current is archived (first)."""
        old = ([self.current] if self.current else []) + list(self.archived)
        if replaced_index is not None:
            del old[replaced_index]
        self.current, self.archived = s, old[:MAX_ARCHIVED]

    def initiate(self, alice: Device, bob_addr: bytes, bundle: bytes, rand32):
        s, trace = initiate(alice, bob_addr, bundle, rand32)
        self._make_current(s)
        return trace

    def encrypt(self, plaintext: bytes, rand32) -> bytes:
        if self.current is None:
            raise SottoError("EncryptError", "NoSession")
        return self.current.encrypt(plaintext, rand32)

    def decrypt_ratchet(self, msg) -> bytes:
        """§8: try current, then archived in order; the one that decrypts becomes current.
        If none does: Duplicate if any session reported it, else the current session's
        error, else NoSession."""
        rm = parse_ratchet_message(msg) if isinstance(msg, (bytes, bytearray)) else msg
        sessions = ([self.current] if self.current else []) + list(self.archived)
        errors = []
        for i, s in enumerate(sessions):
            try:
                pt = s.decrypt(rm)
            except SottoError as e:
                errors.append(e)
                continue
            if i > 0:
                self._make_current(s, i)
            return pt
        dup = [e for e in errors if e.variant == "Duplicate"]
        if dup:
            raise dup[0]
        if self.current is not None:
            raise errors[0]
        raise SottoError("DecryptError", "NoSession")

    def decrypt(self, msg: bytes, remote_addr: bytes, dev: Device):
        """Decrypt any message (§7) from remote_addr; returns (plaintext, PreKeyUse or None).
        On failure nothing changed. The caller applies the PreKeyUse (§5.3 step 7)."""
        t = _check_header(msg)
        if t == 1:
            return self.decrypt_ratchet(msg), None
        pm = parse_prekey_message(msg)  # §5.3 step 1
        sessions = ([self.current] if self.current else []) + list(self.archived)
        if any(s.base_key == pm.base_key and s.remote_identity[:65] == pm.identity_key[:65]
               for s in sessions):  # §5.3 step 2, before any prekey lookup
            return self.decrypt_ratchet(pm.message), None
        s, pt, _, tr = respond(dev, remote_addr, pm)  # steps 3-6
        self._make_current(s)
        return pt, tr.use


def parse_record(b: bytes) -> Record:
    if not b or b[0] != 0x01:
        raise SottoError("RecordError", "UnknownVersion")
    try:
        m = pb_parse(b[1:])
        cur = parse_session(pb_bytes(m, 1)) if pb_has(m, 1) else None
        arch = [parse_session(x) for x in pb_repeated(m, 2)]
    except ValueError as e:
        raise SottoError("RecordError", "Corrupt", str(e))
    if len(arch) > MAX_ARCHIVED:
        raise SottoError("RecordError", "Corrupt", "too many archived sessions")
    return Record(cur, arch)


def encode_record(r: Record) -> bytes:
    out = pb_field_bytes(1, encode_session(r.current), True) if r.current else b""
    for s in r.archived:
        out += pb_field_bytes(2, encode_session(s), True)
    return b"\x01" + out


# ----------------------------------------------------------- §9 safety numbers
def fingerprint_hash(ik65: bytes, stable_id: bytes, iterations: int = 5200) -> bytes:
    h = sha512(SAFETY_VERSION + ik65 + stable_id)
    for _ in range(iterations):
        h = sha512(h + ik65)
    return h


def digits30(h: bytes) -> str:
    return "".join("%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000)
                   for i in range(0, 30, 5))


def safety_number(ik_a: bytes, id_a: bytes, ik_b: bytes, id_b: bytes) -> str:
    da = digits30(fingerprint_hash(ik_a, id_a))
    db = digits30(fingerprint_hash(ik_b, id_b))
    return min(da, db) + max(da, db)


def qr_payload(local_h: bytes, remote_h: bytes) -> bytes:
    return (pb_field_uint(1, 1) + pb_field_bytes(2, pb_field_bytes(1, local_h[:32]), True)
            + pb_field_bytes(3, pb_field_bytes(1, remote_h[:32]), True))


def qr_compare(ours: bytes, scanned: bytes) -> bool:
    try:
        m = pb_parse(scanned)
        ver = pb_uint(m, 1)
        their_local = pb_bytes(pb_parse(pb_bytes(m, 2)), 1)
        their_remote = pb_bytes(pb_parse(pb_bytes(m, 3)), 1)
    except ValueError:
        raise SottoError("SafetyNumberError", "Malformed")
    if ver == 0:
        raise SottoError("SafetyNumberError", "Malformed")
    if ver != 1:
        raise SottoError("SafetyNumberError", "VersionMismatch")
    if len(their_local) != 32 or len(their_remote) != 32:
        raise SottoError("SafetyNumberError", "Malformed")
    o = pb_parse(ours)
    our_local = pb_bytes(pb_parse(pb_bytes(o, 2)), 1)
    our_remote = pb_bytes(pb_parse(pb_bytes(o, 3)), 1)
    return _hmac.compare_digest(their_local, our_remote) & _hmac.compare_digest(
        their_remote, our_local)
