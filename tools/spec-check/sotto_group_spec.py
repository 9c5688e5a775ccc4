"""Sotto groups (docs/protocol.md §15) on top of sotto_spec.py: Sender Keys, group messages
and admin-signed group state, written from the text of §15."""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import sotto_spec as S
from sotto_spec import SottoError

LABEL_GROUP_KEYS = b"Sotto_Group_MessageKeys_v1"
LABEL_GROUP_AD = b"Sotto_v1_GroupMessage"
LABEL_SENDER_KEY_SIG = b"Sotto_v1_SenderKeySignature"
LABEL_GROUP_STATE = b"Sotto_v1_GroupState"
MAX_CHAINS = 5
MAX_MEMBERS = 2000


def group_keys(seed: bytes):
    out = S.hkdf(None, seed, LABEL_GROUP_KEYS, 80)
    return out[:32], out[32:64], out[64:80]


def group_ad(group_id: bytes, sender: bytes) -> bytes:
    return S.sha256(LABEL_GROUP_AD + group_id + sender)


def ed_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def _lead(b: bytes, kind: str, typ: int) -> bytes:
    if not b:
        raise SottoError(kind, "Empty")
    if b[0] >> 4 != 1:
        raise SottoError(kind, "UnknownVersion")
    if b[0] & 0x0F != typ:
        raise SottoError(kind, "WrongMessageType")
    return b[1:]


@dataclass
class OwnSenderKey:
    group_id: bytes
    sender: bytes  # encoded address (§4)
    chain_id: int
    ck: bytes
    n: int
    seed: bytes

    def distribution(self) -> bytes:
        return b"\x13" + (S.pb_field_bytes(1, self.group_id) + S.pb_field_uint(2, self.chain_id)
                          + S.pb_field_uint(3, self.n) + S.pb_field_bytes(4, self.ck)
                          + S.pb_field_bytes(5, ed_public(self.seed)))

    def encrypt(self, pt: bytes) -> bytes:
        mseed, nxt = S.chain_step(self.ck)
        ck, mk, iv = group_keys(mseed)
        ad = group_ad(self.group_id, self.sender)
        body = b"\x14" + (S.pb_field_uint(1, self.chain_id) + S.pb_field_uint(2, self.n)
                          + S.pb_field_bytes(3, S.aes_ctr(ck, iv, S.pad(pt))))
        tag = S.hmac256(mk, ad + body)
        sig = Ed25519PrivateKey.from_private_bytes(self.seed).sign(
            LABEL_SENDER_KEY_SIG + ad + body + tag)
        self.ck, self.n = nxt, self.n + 1
        return body + tag + sig


@dataclass
class Chain:
    chain_id: int
    ck: bytes
    n: int
    pk: bytes
    skipped: dict = field(default_factory=dict)


def parse_distribution(b: bytes) -> Chain:
    K = "DistributionError"
    try:
        m = S.pb_parse(_lead(b, K, 3))
    except ValueError:
        raise SottoError(K, "Malformed")
    gid, ck, pk = S.pb_bytes(m, 1), S.pb_bytes(m, 4), S.pb_bytes(m, 5)
    if len(gid) != 32 or len(ck) != 32:
        raise SottoError(K, "Malformed")
    if not S.ed_public_key_ok(pk):
        raise SottoError(K, "Key")
    c = Chain(S.pb_uint(m, 2), ck, S.pb_uint(m, 3), pk)
    c.group_id = gid
    return c


@dataclass
class SenderKeyRecord:
    group_id: bytes
    sender: bytes
    chains: list = field(default_factory=list)  # newest first

    def process(self, dist: bytes):
        c = parse_distribution(dist)
        if c.group_id != self.group_id:
            raise SottoError("DistributionError", "WrongGroup")
        for i, old in enumerate(self.chains):
            if old.chain_id == c.chain_id:
                if old.pk == c.pk:
                    return
                del self.chains[i]
                break
        self.chains = ([c] + self.chains)[:MAX_CHAINS]

    def decrypt(self, msg: bytes) -> bytes:
        K = "GroupDecryptError"
        _lead(msg, K, 4)
        if len(msg) < 1 + 32 + 64:
            raise SottoError(K, "Malformed")
        body, tag, sig = msg[:-96], msg[-96:-64], msg[-64:]
        try:
            m = S.pb_parse(body[1:])
        except ValueError:
            raise SottoError(K, "Malformed")
        chain_id, it, ct = S.pb_uint(m, 1), S.pb_uint(m, 2), S.pb_bytes(m, 3)
        if not ct:
            raise SottoError(K, "Malformed")
        chain = next((c for c in self.chains if c.chain_id == chain_id), None)
        if chain is None:
            raise SottoError(K, "UnknownChain")
        ad = group_ad(self.group_id, self.sender)
        if not S.verify_strict(chain.pk, LABEL_SENDER_KEY_SIG + ad + body + tag, sig):
            raise SottoError(K, "BadSignature")
        skipped, ck, n = dict(chain.skipped), chain.ck, chain.n
        if it < n:
            if it not in skipped:
                raise SottoError(K, "Duplicate")
            seed = skipped.pop(it)
        else:
            if it - n > S.MAX_JUMP:
                raise SottoError(K, "CounterJumpTooLarge")
            while n < it:
                skipped[n], ck = S.chain_step(ck)
                n += 1
            seed, ck = S.chain_step(ck)
            n += 1
            for old in sorted(skipped)[:max(0, len(skipped) - S.MAX_SKIPPED)]:
                del skipped[old]
        cipher_key, mac_key, iv = group_keys(seed)
        if not S._hmac.compare_digest(S.hmac256(mac_key, ad + body), tag):
            raise SottoError(K, "BadMac")
        try:
            pt = S.unpad(S.aes_ctr(cipher_key, iv, ct))
        except SottoError:
            raise SottoError(K, "BadPadding")
        chain.skipped, chain.ck, chain.n = skipped, ck, n
        return pt


# ------------------------------------------------------------------ §15.4 group state
ROLES = {1: "admin", 2: "member"}


def encode_state(group_id: bytes, version: int, name: str, members: list) -> bytes:
    """members: (account, identity encoded[129], role number), in any order."""
    out = S.pb_field_bytes(1, group_id) + S.pb_field_uint(2, version) + S.pb_field_bytes(3, name.encode())
    for account, ik, role in sorted(members):
        out += S.pb_field_bytes(4, S.pb_field_bytes(1, account) + S.pb_field_bytes(2, ik)
                                + S.pb_field_uint(3, role), emit_empty=True)
    return out


def sign_state(state: bytes, signer: bytes, identity: S.Identity) -> bytes:
    sig = identity.sign(LABEL_GROUP_STATE + b"\x15" + state)
    return b"\x15" + S.pb_field_bytes(1, state) + S.pb_field_bytes(2, signer) + S.pb_field_bytes(3, sig)


@dataclass
class GroupState:
    group_id: bytes
    version: int
    name: str
    members: dict  # account -> (identity encoded, role)


def _unsigned(b: bytes):
    K = "GroupStateError"
    try:
        outer = S.pb_parse(_lead(b, K, 5))
        state_bytes = S.pb_bytes(outer, 1)
        inner = S.pb_parse(state_bytes)
        raw_members = [S.pb_parse(m) for m in S.pb_repeated(inner, 4)]
    except ValueError:
        raise SottoError(K, "Malformed")
    if len(raw_members) > MAX_MEMBERS:
        raise SottoError(K, "TooManyMembers")
    return state_bytes, S.pb_bytes(outer, 2), S.pb_bytes(outer, 3), inner, raw_members


def _parse_state(inner, raw_members) -> GroupState:
    K = "GroupStateError"
    gid, version = S.pb_bytes(inner, 1), [v for wt, v in inner.get(2, []) if wt == 0]
    version = version[-1] if version else 0
    name = S.pb_bytes(inner, 3)
    if len(gid) != 32 or version < 1 or len(name) > 256:
        raise SottoError(K, "Malformed")
    members, last = {}, None
    for m in raw_members:
        account, role = S.pb_bytes(m, 1), S.pb_uint(m, 3)
        if role not in ROLES:
            raise SottoError(K, "Malformed")
        if not 1 <= len(account) <= 64:
            raise SottoError(K, "Address")
        S.decode_identity(S.pb_bytes(m, 2))
        if last is not None and account <= last:
            raise SottoError(K, "UnsortedOrDuplicateMembers")
        members[account], last = (S.pb_bytes(m, 2), ROLES[role]), account
    if not any(r == "admin" for _, r in members.values()):
        raise SottoError(K, "NoAdmin")
    return GroupState(gid, version, name.decode(), members)


def _verify(state_bytes: bytes, sig: bytes, ik: bytes):
    if not S.verify_strict(ik[1:33], LABEL_GROUP_STATE + b"\x15" + state_bytes, sig):
        raise SottoError("GroupStateError", "BadSignature")


def verify_initial(b: bytes, me: bytes) -> GroupState:
    K = "GroupStateError"
    state_bytes, signer, sig, inner, raw = _unsigned(b)
    listed = next((m for m in raw if S.pb_bytes(m, 1) == signer), None)
    if listed is None or S.pb_uint(listed, 3) != 1:
        raise SottoError(K, "NotAnAdmin")
    _verify(state_bytes, sig, S.decode_identity(S.pb_bytes(listed, 2)).encoded)
    state = _parse_state(inner, raw)
    if me not in state.members:
        raise SottoError(K, "NotListed")
    return state


def verify_update(cur: GroupState, b: bytes) -> GroupState:
    K = "GroupStateError"
    state_bytes, signer, sig, inner, raw = _unsigned(b)
    if S.pb_bytes(inner, 1) != cur.group_id:
        raise SottoError(K, "UnknownGroup")
    version = [v for wt, v in inner.get(2, []) if wt == 0]
    if (version[-1] if version else 0) <= cur.version:
        raise SottoError(K, "VersionNotNewer")
    if signer not in cur.members or cur.members[signer][1] != "admin":
        raise SottoError(K, "NotAnAdmin")
    _verify(state_bytes, sig, cur.members[signer][0])
    return _parse_state(inner, raw)
