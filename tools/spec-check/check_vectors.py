#!/usr/bin/env python3
"""Check testdata/vectors/*.json against the independent implementation in
sotto_spec.py (written from docs/protocol.md alone).

Usage: python check_vectors.py [VECTOR_DIR]
Prints one line per check and closes with 'N passed, N failed, N skipped'.
Exit status 0 iff nothing failed.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_spec as S  # noqa: E402
import sotto_group_spec as G  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VDIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "testdata", "vectors")

RESULTS = {"pass": 0, "fail": 0, "skip": 0}


def check(name: str, ok: bool, detail: str = ""):
    RESULTS["pass" if ok else "fail"] += 1
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  [{detail}]" if detail and not ok else ""))


def skip(name: str, why: str):
    RESULTS["skip"] += 1
    print(f"SKIP  {name}  ({why})")


def expect_error(name: str, fn, variant: str):
    try:
        fn()
    except S.SottoError as e:
        check(name, e.variant == variant, f"got {e}")
        return
    check(name, False, "no error raised")


def load(name):
    with open(os.path.join(VDIR, name)) as f:
        return json.load(f)


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def make_device(p: dict) -> S.Device:
    d = S.Device(S.Identity.from_secret(h(p["identity_secret"])), p["account"].encode(), p["device"])
    s, o, k = p["signed_pre_key"], p["one_time_pre_key"], p["kem_pre_key"]
    d.spks[s["id"]] = S.SignedPreKey(s["id"], h(s["private"]))
    d.opks[o["id"]] = S.OneTimePreKey(o["id"], h(o["private"]))
    kind = {"one-time": 1, "last-resort": 2}[k["kind"]]
    d.kpks[k["id"]] = S.KemPreKey(k["id"], kind, h(k["seed"]))
    return d


# ------------------------------------------------------------------ kdf.json
def check_kdf():
    v = load("kdf.json")
    for i, c in enumerate(v["root_kdf"]):
        out = S.dh(h(c["our_private"]), S.validate_ec_public(h(c["their_public"])))
        rk, ck = S.root_step(h(c["root_key"]), out)
        check(f"kdf.root_kdf[{i}] new_root_key", rk.hex() == c["new_root_key"])
        check(f"kdf.root_kdf[{i}] chain_key", ck.hex() == c["chain_key"])
    for i, c in enumerate(v["chain_kdf"]):
        seed, nck = S.chain_step(h(c["chain_key"]))
        check(f"kdf.chain_kdf[{i}] message_key_seed", seed.hex() == c["message_key_seed"])
        check(f"kdf.chain_kdf[{i}] next_chain_key", nck.hex() == c["next_chain_key"])
    for i, c in enumerate(v["message_keys"]):
        ck, mk, iv = S.message_keys(h(c["message_key_seed"]))
        check(f"kdf.message_keys[{i}] cipher_key", ck.hex() == c["cipher_key"])
        check(f"kdf.message_keys[{i}] mac_key", mk.hex() == c["mac_key"])
        check(f"kdf.message_keys[{i}] iv", iv.hex() == c["iv"])
    for i, c in enumerate(v["pqxdh_kdf"]):
        sk = S.pqxdh_sk([h(x) for x in c["dh"]], h(c["kem_shared_secret"]), h(c["transcript_hash"]))
        check(f"kdf.pqxdh_kdf[{i}] ({len(c['dh'])} DHs) sk", sk.hex() == c["sk"])


# --------------------------------------------------------- safety_number.json
def check_safety_number():
    v = load("safety_number.json")
    a = S.Identity.from_secret(h(v["alice_identity_secret"]))
    b = S.Identity.from_secret(h(v["bob_identity_secret"]))
    check("safety.alice identity keys (65 bytes) from secret", a.identity_keys.hex() == v["alice_identity_keys"])
    check("safety.bob identity keys (65 bytes) from secret", b.identity_keys.hex() == v["bob_identity_keys"])
    for nm, ident in (("alice", a), ("bob", b)):
        try:
            S.decode_identity(ident.encoded)
            check(f"safety.{nm} 129-byte encoding (binding sig) decodes strictly", True)
        except S.SottoError as e:
            check(f"safety.{nm} 129-byte encoding (binding sig) decodes strictly", False, str(e))
    ida, idb = v["alice_id"].encode(), v["bob_id"].encode()
    ha = S.fingerprint_hash(a.identity_keys, ida)
    hb = S.fingerprint_hash(b.identity_keys, idb)
    digits = S.safety_number(a.identity_keys, ida, b.identity_keys, idb)
    check("safety.digits (60)", digits == v["digits"], digits)
    qa, qb = S.qr_payload(ha, hb), S.qr_payload(hb, ha)
    check("safety.qr_payload_at_alice", qa.hex() == v["qr_payload_at_alice"])
    check("safety.qr_payload_at_bob", qb.hex() == v["qr_payload_at_bob"])
    check("safety.QR compare: alice scans bob's code -> match", S.qr_compare(qa, h(v["qr_payload_at_bob"])))
    check("safety.QR compare: alice scans her own code -> mismatch", not S.qr_compare(qa, qa))
    bad = bytearray(h(v["qr_payload_at_bob"]))
    bad[1] = 2
    expect_error("safety.QR compare: version 2 -> VersionMismatch", lambda: S.qr_compare(qa, bytes(bad)),
                 "VersionMismatch")


# ------------------------------------------------------------------ pqxdh.json
def check_pqxdh():
    v = load("pqxdh.json")
    alice, bob = make_device(v["alice"]), make_device(v["bob"])
    check("pqxdh.alice 129-byte identity key from secret", alice.identity.encoded.hex() == v["alice_identity_key"])
    check("pqxdh.bob 129-byte identity key from secret", bob.identity.encoded.hex() == v["bob_identity_key"])
    bundle = S.encode_bundle(bob.identity, bob.spks[1], bob.opks[2], bob.kpks[3])
    check("pqxdh.bob_bundle rebuilt byte-exact from Bob's secrets", bundle.hex() == v["bob_bundle"])
    try:
        vb = S.verify_bundle(h(v["bob_bundle"]))
        check("pqxdh.bob_bundle verifies (§5.2 steps 1-5)", True)
    except S.SottoError as e:
        check("pqxdh.bob_bundle verifies (§5.2 steps 1-5)", False, str(e))
        return

    # responder side
    msg = h(v["prekey_message"])
    bs, pt, pm, tr = S.respond(bob, alice.address, msg)
    check("pqxdh.responder: base key is torsion-free (§2.4)",
          S.x25519_u_is_torsion_free(int.from_bytes(pm.base_key[1:], "little")))
    check("pqxdh.responder: transcript hash T", tr.t.hex() == v["transcript_hash"])
    check("pqxdh.responder: SK (field 'sk', §5.3 step 5, before the first root step)",
          tr.sk.hex() == v["sk"])
    check("pqxdh.responder: MAC verified and plaintext", pt == v["plaintext"].encode())
    check("pqxdh.responder: session AD == T", bs.associated_data == tr.t)

    # initiator side, from the listed draws
    draws = iter(h(x) for x in v["initiator_draws"])
    als, itr = S.initiate(alice, bob.address, h(v["bob_bundle"]), lambda: next(draws))
    check("pqxdh.initiator: T", itr.t == tr.t)
    check("pqxdh.initiator: DH1..DH4 equal responder's", itr.dhs == tr.dhs)
    check("pqxdh.initiator: ML-KEM SS == responder's decapsulated SS", itr.ss == tr.ss)
    check("pqxdh.initiator: SK", itr.sk == tr.sk)
    check("pqxdh.first ratchet root step: RK equal on both sides", als.root_key == bs.root_key)
    check("pqxdh.first ratchet root step: CKs(initiator) == CKr(responder) after 1 step",
          S.chain_step(als.sending_chain.key)[1] == bs.receiving_chains[0].chain.key)
    out = als.encrypt(v["plaintext"].encode(), lambda: (_ for _ in ()).throw(RuntimeError("no draw")))
    check("pqxdh.initiator: prekey message reproduced byte-exact", out.hex() == v["prekey_message"])

    # a few negative checks on the same data
    bad = bytearray(msg)
    bad[-1] ^= 1
    expect_error("pqxdh.responder: flipped tag bit -> BadMac", lambda: S.respond(bob, alice.address, bytes(bad)),
                 "BadMac")
    other = S.address(b"alice", 2)
    expect_error("pqxdh.responder: wrong sender address -> BadMac", lambda: S.respond(bob, other, msg), "BadMac")
    b2 = make_device(v["bob"])
    b2.opks.clear()
    expect_error("pqxdh.responder: missing OPK -> UnknownOneTimePreKey",
                 lambda: S.respond(b2, alice.address, msg), "UnknownOneTimePreKey")


# ---------------------------------------------------------------- ratchet.json
class Draws:
    """The random bytes a vector lists for one operation, handed out 32 at a time."""

    def __init__(self, hexes):
        self.left = [h(x) for x in hexes]
        self.n = len(self.left)

    def __call__(self) -> bytes:
        if not self.left:
            raise LookupError("drew more random bytes than the vector lists")
        return self.left.pop(0)


def check_ratchet():
    v = load("ratchet.json")
    pv = load("pqxdh.json")
    devs = {"alice": make_device(pv["alice"]), "bob": make_device(pv["bob"])}
    recs = {"alice": S.Record(None, []), "bob": S.Record(None, [])}
    addr = {k: d.address for k, d in devs.items()}
    other = {"alice": "bob", "bob": "alice"}
    check("ratchet.initiator_draws are pqxdh.json's", v["initiator_draws"] == pv["initiator_draws"])
    d = Draws(v["initiator_draws"])
    recs["alice"].initiate(devs["alice"], addr["bob"], h(pv["bob_bundle"]), d)
    check("ratchet.initiate consumed exactly initiator_draws (3 x 32 bytes)", not d.left)
    sent = {}
    for st in v["steps"]:
        n = st["step"]
        if "send" in st:
            who = st["send"]
            wire = h(st["wire"])
            sent[n] = (who, wire)
            d = Draws(st["draws"])
            cur = recs[who].current
            ratchets = cur.sending_chain is None
            try:
                out = recs[who].encrypt(st["plaintext"].encode(), d)
            except (S.SottoError, LookupError) as e:
                check(f"ratchet.step {n}: {who} sends {st['plaintext']!r}", False, repr(e))
                continue
            check(f"ratchet.step {n}: {who} sends {st['plaintext']!r} byte-exact "
                  f"({'DH ratchet step, 1 draw' if ratchets else 'no draw'})",
                  out == wire and not d.left and d.n == (1 if ratchets else 0),
                  f"byte-exact={out == wire}, draws listed={d.n}, unused={len(d.left)}")
        else:
            src_who, wire = sent[st["deliver"]]
            who = other[src_who]
            try:
                pt, use = recs[who].decrypt(wire, addr[src_who], devs[who])
                if use is not None:
                    devs[who].apply_prekey_use(use)  # §5.3 step 7: OPK and one-time KEM key deleted
                check(f"ratchet.step {n}: {who} receives step {st['deliver']} -> {st['plaintext']!r}"
                      + (" (new session; prekeys then deleted)" if use else ""),
                      pt == st["plaintext"].encode(), repr(pt))
            except S.SottoError as e:
                check(f"ratchet.step {n}: {who} receives step {st['deliver']}", False, str(e))

    w = {k: S.parse_ratchet_message(x if x[0] == 0x11 else S.parse_prekey_message(x).message)
         for k, (_, x) in sent.items()}
    check("ratchet.headers (§6.6 PN rule): a0-a2 and b0/b1 carry PN=0; a3/a4 PN=3 (Alice had sent 3); "
          "b2 PN=2 (Bob had sent 2)",
          [w[k].previous_counter for k in (0, 1, 2, 5, 6, 8, 13, 12)] == [0, 0, 0, 0, 0, 3, 3, 2])
    check("ratchet.prekey data cleared: Alice's a3/a4 are plain ratchet messages (she read b1 first)",
          sent[8][1][0] == 0x11 and sent[13][1][0] == 0x11)
    check("ratchet.Bob's one-time prekey and one-time ML-KEM key were deleted after the first read",
          not devs["bob"].opks and not devs["bob"].kpks)
    expect_error("ratchet.replay of step 0 (prekey message, routed by §5.3 step 2 after its prekeys were "
                 "deleted) at Bob -> Duplicate",
                 lambda: recs["bob"].decrypt(sent[0][1], addr["alice"], devs["bob"]), "Duplicate")
    expect_error("ratchet.replay of step 8 (a3) at Bob -> Duplicate",
                 lambda: recs["bob"].decrypt(sent[8][1], addr["alice"], devs["bob"]), "Duplicate")
    expect_error("ratchet.replay of step 5 (b0) at Alice -> Duplicate",
                 lambda: recs["alice"].decrypt(sent[5][1], addr["bob"], devs["alice"]), "Duplicate")
    for who in ("alice", "bob"):
        enc = S.encode_record(recs[who])
        check(f"ratchet.{who}'s final record round-trips through §8.1 (parse, re-encode)",
              S.encode_record(S.parse_record(enc)) == enc)
    bob_cur, alice_cur = recs["bob"].current, recs["alice"].current
    check("ratchet.final state: Alice and Bob agree on the root key", bob_cur.root_key == alice_cur.root_key)


def check_last_resort():
    """§5.3 step 4 on a session without a one-time prekey, from the pqxdh.json devices."""
    pv = load("pqxdh.json")
    alice, bob = make_device(pv["alice"]), make_device(pv["bob"])
    k = bob.kpks[3]
    k.kind = 2
    bundle = S.encode_bundle(bob.identity, bob.spks[1], None, k)
    vb = S.verify_bundle(bundle)
    check("last-resort: bundle without one-time prekey, last-resort ML-KEM key verifies",
          vb.opk is None and vb.kem_kind == 2)
    tampered = S.encode_bundle(bob.identity, bob.spks[1], None, S.KemPreKey(3, 1, k.seed))
    # present the last-resort key's signature with kind 1: the kind is signed (§5.1)
    sig2 = S.kem_signature(bob.identity, k, k.public)
    tampered = tampered.replace(S.kem_signature(bob.identity, S.KemPreKey(3, 1, k.seed), k.public), sig2)
    expect_error("last-resort: same key and signature presented as one-time -> BundleError::Key",
                 lambda: S.verify_bundle(tampered), "Key")
    draws = Draws(["11" * 32, "22" * 32, "33" * 32])
    arec = S.Record(None, [])
    arec.initiate(alice, bob.address, bundle, draws)
    msg = arec.encrypt(b"last resort", Draws([]))
    check("last-resort: prekey message has no one_time_pre_key_id", S.parse_prekey_message(msg).one_time_pre_key_id is None)
    brec = S.Record(None, [])
    pt, use = brec.decrypt(msg, alice.address, bob)
    bob.apply_prekey_use(use)
    check("last-resort: responder reads it; last-resort key kept, (kem id, base key) recorded",
          pt == b"last resort" and 3 in bob.kpks and len(bob.last_resort_used) == 1)
    expect_error("last-resort: same prekey message at a record without the session -> ReplayedPreKeyMessage",
                 lambda: S.Record(None, []).decrypt(msg, alice.address, bob), "ReplayedPreKeyMessage")
    expect_error("last-resort: same prekey message at the record with the session -> Duplicate",
                 lambda: brec.decrypt(msg, alice.address, bob), "Duplicate")


# ----------------------------------------------------- session_record_v1.json
def check_record():
    v = load("session_record_v1.json")
    pv = load("pqxdh.json")
    raw = h(v["record"])
    try:
        rec = S.parse_record(raw)
        check("record.parses as format version 1 (§8.1)", True)
    except S.SottoError as e:
        check("record.parses as format version 1 (§8.1)", False, str(e))
        return
    check("record.re-encodes byte-exact", S.encode_record(rec) == raw)
    cur = rec.current
    alice = make_device(pv["alice"])
    fr = v["from"]
    check("record.remote identity is Alice's (pqxdh vector)", cur.remote_identity == alice.identity.encoded)
    check("record.AD is the pqxdh transcript hash", cur.associated_data.hex() == pv["transcript_hash"])
    chain = cur.receiving_chains[0]
    check("record.holds a skipped key", any(True for _ in chain.skipped))

    # Cross-check: the record is what Bob's state after reading messages 0 and 2 must be.
    bob = make_device(pv["bob"])
    bs, _, _, _ = S.respond(bob, S.address(fr["account"].encode(), fr["device"]), h(pv["prekey_message"]))
    bchain = bs.receiving_chains[0]
    seeds = []
    ck = bchain.chain.key
    for _ in range(chain.chain.index - bchain.chain.index):
        sd, ck = S.chain_step(ck)
        seeds.append(sd)
    check("record.root key == Bob's root after the pqxdh handshake", cur.root_key == bs.root_key)
    check("record.chain key == Bob's receiving chain stepped to index %d" % chain.chain.index, ck == chain.chain.key)
    check("record.skipped seed == Bob's seed at its index",
          all(seeds[i - bchain.chain.index] == sd for i, sd in chain.skipped))

    msg = h(v["message"])
    pm = S.parse_prekey_message(msg)
    check("record.message is a repeated prekey message of the recorded session",
          pm.base_key == cur.base_key and pm.identity_key == cur.remote_identity)
    retired = make_device(pv["bob"])
    retired.spks.clear(), retired.opks.clear(), retired.kpks.clear()
    sender = S.address(fr["account"].encode(), fr["device"])
    pt, use = rec.decrypt(msg, sender, retired)
    check("record.held-back prekey message decrypts with the stored skipped key (§5.3 step 2, all "
          "prekeys retired)", pt == v["plaintext"].encode() and use is None, repr(pt))
    expect_error("record.second read of it -> Duplicate", lambda: rec.decrypt(msg, sender, retired), "Duplicate")
    expect_error("record.version byte 2 -> UnknownVersion", lambda: S.parse_record(b"\x02" + raw[1:]),
                 "UnknownVersion")


# ---------------------------------------------------- §2/§3 validation self-checks
def check_validation():
    v = load("pqxdh.json")
    ik = bytearray(h(v["alice_identity_key"]))
    ik[-1] ^= 1
    expect_error("validation: identity with flipped signature bit -> BadSignature",
                 lambda: S.decode_identity(bytes(ik)), "BadSignature")
    expect_error("validation: identity of 128 bytes -> WrongLength",
                 lambda: S.decode_identity(h(v["alice_identity_key"])[:128]), "WrongLength")
    for u in sorted(S.SMALL_ORDER_U):
        expect_error(f"validation: small-order u {u.hex()[:8]}.. -> SmallOrder",
                     lambda: S.validate_ec_public(b"\x05" + u), "SmallOrder")
    expect_error("validation: u = p -> NonCanonical",
                 lambda: S.validate_ec_public(b"\x05" + S.P.to_bytes(32, "little")), "NonCanonical")
    expect_error("validation: type byte 0x06 -> WrongType",
                 lambda: S.validate_ec_public(b"\x06" + bytes(32)), "WrongType")
    # a torsion-free base key plus a point of order 8 (via Edwards) must be refused
    pm = S.parse_prekey_message(h(v["prekey_message"]))
    u = int.from_bytes(pm.base_key[1:], "little")
    y = (u - 1) * pow(u + 1, S.P - 2, S.P) % S.P
    x = S._ed_recover_x(y, 0)
    pt = (x, y, 1, x * y % S.P)
    # an order-8 point: decompress a known small-order Ed25519 encoding
    t8 = S.ed_decompress(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
    q = S._ed_add(pt, t8)
    zi = pow(q[2], S.P - 2, S.P)
    qy = q[1] * zi % S.P
    u2 = (1 + qy) * pow(1 - qy, S.P - 2, S.P) % S.P
    expect_error("validation: base key + order-8 point -> NotTorsionFree",
                 lambda: S.validate_ec_public(b"\x05" + u2.to_bytes(32, "little"), torsion_free=True),
                 "NotTorsionFree")
    kem = S.verify_bundle(h(v["bob_bundle"])).kem
    k2 = bytearray(kem)
    k2[1], k2[2] = 0xFF, 0x0F  # first coefficient 4095 >= 3329
    expect_error("validation: ML-KEM key with coefficient 4095 -> InvalidKemKey",
                 lambda: S.validate_kem_public(bytes(k2)), "InvalidKemKey")


# --------------------------------------------------- §1/§3 strict Ed25519 self-checks
def _ed_pub(scalar: int) -> bytes:
    return S.ed_encode(S._ed_mul(scalar, S.ED_B))


def _ed_sign_raw(a: int, A: bytes, r: int, msg: bytes) -> bytes:
    """Sign with a raw scalar (not a seed) so that hostile keys can be built."""
    R = S.ed_encode(S._ed_mul(r, S.ED_B))
    k = int.from_bytes(S.sha512(R + A + msg), "little") % S.L
    return R + ((r + k * a) % S.L).to_bytes(32, "little")


def check_ed25519_strict():
    pv = load("pqxdh.json")
    alice = make_device(pv["alice"]).identity
    msg = b"Sotto_v1_SignedPreKey" + bytes(4) + b"\x05" + bytes(31) + b"\x09"
    sig = alice.sign(msg)
    check("ed25519: own strict verifier accepts an RFC 8032 signature (cryptography's)",
          S.verify_strict(alice.ed_public, msg, sig))
    s = int.from_bytes(sig[32:], "little")
    check("ed25519: s + L (non-canonical s) refused",
          not S.verify_strict(alice.ed_public, msg, sig[:32] + (s + S.L).to_bytes(32, "little")))
    # R = identity (small order) with a signature that satisfies the cofactorless equation
    a = 0x1234567 * 8 + 5
    A = _ed_pub(a)
    R0 = (1).to_bytes(32, "little")
    k = int.from_bytes(S.sha512(R0 + A + msg), "little") % S.L
    forged = R0 + (k * a % S.L).to_bytes(32, "little")
    check("ed25519: [s]B - [k]A == R holds but R is small order -> refused",
          S.ed_encode(S._ed_add(S._ed_mul(k * a % S.L, S.ED_B), S.ed_neg(S._ed_mul(k, S.ed_decompress(A)))))
          == R0 and not S.verify_strict(A, msg, forged))
    # mixed-order A = aB + T8: the cofactorless equation holds iff k = 0 mod 8
    t8 = S.ed_decompress(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
    Am = S.ed_encode(S._ed_add(S._ed_mul(a, S.ED_B), t8))
    got = {}
    for i in range(200):
        m = msg + bytes([i])
        sg = _ed_sign_raw(a, Am, 99991 + i, m)
        kk = int.from_bytes(S.sha512(sg[:32] + Am + m), "little") % S.L
        got.setdefault(kk % 8 == 0, (m, sg))
        if len(got) == 2:
            break
    check("ed25519: mixed-order key, k != 0 mod 8 -> refused (cofactorless equation)",
          not S.verify_strict(Am, *got[False]))
    check("ed25519: mixed-order key, k = 0 mod 8 -> accepted (the equation, not a torsion check, decides)",
          S.verify_strict(Am, *got[True]))
    # §3: identity with a non-canonical Ed25519 encoding (y + p) of a valid large-order point
    enc = None
    for y in range(19):
        if S._ed_recover_x(y, 0) is not None and not S.ed_is_small_order(
                (S._ed_recover_x(y, 0), y, 1, S._ed_recover_x(y, 0) * y % S.P)):
            enc = (y + S.P).to_bytes(32, "little")
            break
    ik = bytearray(h(pv["alice_identity_key"]))
    ik[1:33] = enc
    expect_error(f"identity: non-canonical Ed25519 key (y = {y} + p) -> InvalidSigningKey",
                 lambda: S.decode_identity(bytes(ik)), "InvalidSigningKey")
    ik[1:33] = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
    expect_error("identity: small-order Ed25519 key -> InvalidSigningKey",
                 lambda: S.decode_identity(bytes(ik)), "InvalidSigningKey")
    ik[1:33] = b"\x01" + bytes(30) + b"\x80"  # y = 1, x = 0 with sign bit 1 ("negative zero")
    expect_error("identity: Ed25519 key 'negative zero' (y = 1, sign bit set) -> InvalidSigningKey",
                 lambda: S.decode_identity(bytes(ik)), "InvalidSigningKey")


# ----------------------------------------------- §6.3, §7, §9, protobuf self-checks
def check_messages():
    for n, want in ((0, 160), (159, 160), (160, 320), (161, 320)):
        check(f"padding: {n}-byte plaintext pads to {want}", len(S.pad(bytes(n))) == want
              and S.unpad(S.pad(bytes(n))) == bytes(n))
    expect_error("padding: no 0x80 before the zeros -> BadPadding", lambda: S.unpad(bytes(160)), "BadPadding")
    expect_error("padding: 161 bytes removed (0x80 then 160 zeros) -> BadPadding",
                 lambda: S.unpad(bytes(159) + b"\x80" + bytes(160)), "BadPadding")
    expect_error("padding: length 170 -> BadPadding", lambda: S.unpad(b"\x80" + bytes(169)), "BadPadding")
    rec, dev = S.Record(None, []), make_device(load("pqxdh.json")["bob"])
    frm = S.address(b"alice", 1)
    expect_error("message: empty -> Empty", lambda: rec.decrypt(b"", frm, dev), "Empty")
    expect_error("message: version 2 -> UnknownVersion", lambda: rec.decrypt(b"\x21" + bytes(40), frm, dev),
                 "UnknownVersion")
    expect_error("message: type 3 -> UnknownMessageType", lambda: rec.decrypt(b"\x13" + bytes(40), frm, dev),
                 "UnknownMessageType")
    expect_error("message: ratchet message of 32 bytes -> Malformed",
                 lambda: rec.decrypt(b"\x11" + bytes(31), frm, dev), "Malformed")
    rv = load("ratchet.json")
    b0 = h(rv["steps"][5]["wire"])
    expect_error("message: ratchet message on an empty record -> NoSession",
                 lambda: rec.decrypt(b0, frm, dev), "NoSession")
    expect_error("message: encrypt on an empty record -> NoSession",
                 lambda: rec.encrypt(b"x", Draws([])), "NoSession")
    # protobuf decoder rules (§1) on the QR payload: unknown fields ignored, last value wins
    v = load("safety_number.json")
    qa, qb = h(v["qr_payload_at_alice"]), h(v["qr_payload_at_bob"])
    check("protobuf: unknown field (15) appended is ignored (QR still matches)",
          S.qr_compare(qa, qb + S.pb_field_bytes(15, b"x")))
    expect_error("protobuf: repeated version field, last value (2) wins -> VersionMismatch",
                 lambda: S.qr_compare(qa, qb + S.pb_field_uint(1, 2)), "VersionMismatch")
    expect_error("QR: version 0 -> Malformed", lambda: S.qr_compare(qa, qb[2:]), "Malformed")
    short = S.pb_field_uint(1, 1) + S.pb_field_bytes(2, S.pb_field_bytes(1, bytes(31)), True) + qb[36:]
    expect_error("QR: 31-byte content -> Malformed", lambda: S.qr_compare(qa, short), "Malformed")


def check_group():
    """§15 from group.json: sender key from its draws, distribution and messages byte for
    byte, a receiver's record, tampering, and the signed group state."""
    v = load("group.json")
    gid, sender = h(v["group_id"]), S.address(b"alice", 1)
    check("group: AD (§15.1)", G.group_ad(gid, sender) == h(v["associated_data"]))
    d = [h(x) for x in v["sender_key_draws"]]
    key = G.OwnSenderKey(gid, sender, int.from_bytes(d[0], "big"), d[1], 0, d[2])
    dist = key.distribution()
    check("group: distribution reproduced byte for byte (§15.2)", dist == h(v["distribution"]))
    rec = G.SenderKeyRecord(gid, sender)
    rec.process(dist)
    wires = []
    for i, m in enumerate(v["messages"]):
        seed, _ = S.chain_step(h(m["chain_key"]))
        check(f"group: message {i} keys (§15.1)", seed == h(m["message_key_seed"])
              and G.group_keys(seed) == (h(m["cipher_key"]), h(m["mac_key"]), h(m["iv"])))
        wire = key.encrypt(m["plaintext"].encode())
        check(f"group: message {i} reproduced byte for byte (§15.3)", wire == h(m["wire"]))
        wires.append(wire)
    late = G.SenderKeyRecord(gid, sender)
    late.process(dist)
    check("group: out of order, message 2 then 0", late.decrypt(wires[2]) == v["messages"][2]["plaintext"].encode()
          and late.decrypt(wires[0]) == v["messages"][0]["plaintext"].encode())
    bad = bytearray(wires[1])
    bad[-97] ^= 1  # the last ciphertext byte
    expect_error("group: flipped ciphertext byte -> BadSignature", lambda: rec.decrypt(bytes(bad)), "BadSignature")
    other = G.SenderKeyRecord(gid, S.address(b"carol", 1))
    other.process(dist)
    expect_error("group: same chain under another sender -> BadSignature", lambda: other.decrypt(wires[0]),
                 "BadSignature")
    check("group: message 0 reads", rec.decrypt(wires[0]) == v["messages"][0]["plaintext"].encode())
    expect_error("group: replay -> Duplicate", lambda: rec.decrypt(wires[0]), "Duplicate")
    elsewhere = G.SenderKeyRecord(bytes(32), sender)
    expect_error("group: distribution into another group -> WrongGroup", lambda: elsewhere.process(dist),
                 "WrongGroup")
    alice = S.Identity.from_secret(h(v["alice_identity_secret"]))
    bob = S.Identity.from_secret(h(v["bob_identity_secret"]))
    members = [(b"alice", alice.encoded, 1), (b"bob", bob.encoded, 2)]
    v1 = G.encode_state(gid, 1, "vectors", members)
    signed = G.sign_state(v1, b"alice", alice)
    check("group: signed state reproduced byte for byte (§15.4)", signed == h(v["signed_state"]))
    cur = G.verify_initial(signed, b"bob")
    check("group: first state verifies", cur.version == 1 and cur.members[b"alice"][1] == "admin")
    expect_error("group: first state not listing us -> NotListed", lambda: G.verify_initial(signed, b"zed"),
                 "NotListed")
    v2 = G.encode_state(gid, 2, "renamed", members)
    check("group: update by the admin verifies", G.verify_update(cur, G.sign_state(v2, b"alice", alice)).name
          == "renamed")
    expect_error("group: update by a member -> NotAnAdmin",
                 lambda: G.verify_update(cur, G.sign_state(v2, b"bob", bob)), "NotAnAdmin")
    expect_error("group: update claiming the admin, signed by bob -> BadSignature",
                 lambda: G.verify_update(cur, G.sign_state(v2, b"alice", bob)), "BadSignature")
    expect_error("group: version 1 again -> VersionNotNewer", lambda: G.verify_update(cur, signed),
                 "VersionNotNewer")


def main():
    for fn in (check_kdf, check_safety_number, check_pqxdh, check_ratchet, check_last_resort,
               check_record, check_validation, check_ed25519_strict, check_messages, check_group):
        try:
            fn()
        except Exception as e:  # a crash is a failure of that vector file
            traceback.print_exc()
            check(f"{fn.__name__} ran to completion", False, repr(e))
    print(f"{RESULTS['pass']} passed, {RESULTS['fail']} failed, {RESULTS['skip']} skipped")
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
