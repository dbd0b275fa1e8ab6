#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (fuzz/corpus/<target>/seed-*):
well-formed and malformed examples encoded as each body in fuzz/bodies
decodes its input. Run from the repository root; regressions found by
fuzzing are added beside the seeds as crash-*/regress-* files."""
import os
import struct

NS = 0xFFFFFFFF
u32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)


def flow(rate=125000, peak=125000, sdu=1500, service=1):
    return b"".join(u32(v) for v in [rate, sdu, peak, NS, NS, service, sdu, NS])


def chunk(b):
    return bytes([len(b)]) + b


def call(op, bits=8, flags=0, tx=None, rx=None, cm_type=0, cm_len=0, cm=b"",
         mtype=0, mlen=None, addr=b"bob"):
    tx = tx or flow()
    rx = rx or flow()
    mlen = len(addr) if mlen is None else mlen
    return (bytes([op, bits]) + u32(flags) + tx + rx + u32(cm_type) + u32(cm_len) + chunk(cm)
            + u32(3) + u32(1500) + u32(mtype) + u32(mlen) + chunk(addr))


def write(target, name, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


for op, opname in enumerate(["make", "multipoint", "add_party", "qos", "answer"]):
    write("call_params", f"{opname}-bob", call(op))
    write("call_params", f"{opname}-carol", call(op, addr=b"carol"))
    write("call_params", f"{opname}-echo", call(op, addr=b"echo"))
    write("call_params", f"{opname}-nobody", call(op, addr=b"x" * 31))
    write("call_params", f"{opname}-no-media", call(op, bits=8 | 2))
    write("call_params", f"{opname}-no-cm", call(op, bits=8 | 1))
    write("call_params", f"{opname}-len33", call(op, mlen=33))
    write("call_params", f"{opname}-len0", call(op, mlen=0, addr=b""))
    write("call_params", f"{opname}-lenmax", call(op, mlen=NS, addr=b"bob"))
    write("call_params", f"{opname}-wrong-type", call(op, bits=0, mtype=7))
    write("call_params", f"{opname}-aligned", call(op, bits=8 | 4, addr=b"bo"))
    write("call_params", f"{opname}-cm-tail-lie", call(op, cm_type=5, cm_len=NS, cm=b"zz"))
    write("call_params", f"{opname}-absurd-flows",
          call(op, tx=flow(NS - 1, 0, 0, 0xDEAD), rx=flow(200_000_000, 1, NS - 1, 3)))
write("call_params", "make-multipoint-flag", call(0, flags=0x10))

SAP = 0xC0C00001
def sap(bits, t, length, b):
    return bytes([bits]) + u32(t) + u32(length) + chunk(b)
write("sap", "ok", sap(1, 0, 3, b"ali"))
write("sap", "max", sap(1, 0, 32, b"a" * 32))
write("sap", "len33", sap(1, 0, 33, b"a" * 33))
write("sap", "len0", sap(1, 0, 0, b""))
write("sap", "huge", sap(1, 0, NS, b"ali"))
write("sap", "taken", sap(1, 0, 5, b"taken"))
write("sap", "echo", sap(1, 0, 4, b"echo"))
write("sap", "wrong-type", sap(0, 7, 3, b"ali"))
write("sap", "type-raw", sap(0, SAP, 3, b"ali"))

def oid(bits, selector, length, rest=b"", raw_oid=None, long_len=False):
    out = bytes([bits | (16 if long_len else 0)]) + u32(selector)
    if raw_oid is not None:
        out += u32(raw_oid)
    out += u32(length) if long_len else bytes([length & 0xFF, (length >> 8) & 0x0F])
    return out + rest
for sel in range(0, 40):
    write("oid", f"query-{sel}", oid(0, sel, 64))
    write("oid", f"query-vc-{sel}", oid(2, sel, 64))
    write("oid", f"cm-{sel}", oid(1, sel, 2048))
for sel in range(0, 40, 3):
    write("oid", f"short-{sel}", oid(2, sel, 3))
    write("oid", f"null-{sel}", oid(8, sel, 4))
    write("oid", f"set-{sel}", oid(2 | 4, sel, 36, bytes(range(36))))
write("oid", "raw-unknown", oid(0, 0x80000000, 8, raw_oid=0xFF123456))
write("oid", "null-huge", oid(8 | 1, 3, NS, long_len=True))
write("oid", "zero", oid(0, 0, 0))

def qos(link, shift, mtu, tx, rx):
    return u32(link) + bytes([shift]) + u32(mtu) + tx + rx
write("qos_flows", "link", qos(1_000_000_000, 0, 1500, flow(), flow()))
write("qos_flows", "over", qos(1_000_000_000, 0, 1500, flow(NS - 1, NS - 1, NS - 1), flow(0, 0, 0)))
write("qos_flows", "unspecified", qos(8, 30, 0, flow(NS, NS, NS), flow(1, 2, 3)))

for name in os.listdir("scenarios"):
    if name.endswith(".toml"):
        with open(os.path.join("scenarios", name), "rb") as f:
            write("scenario_toml", name, f.read())
write("scenario_toml", "bad-syntax.toml", b'name = "x"\n[[step]\ndo = 3\n')
write("scenario_toml", "unknown-key.toml", b'name = "x"\nbogus = 1\n[[client]]\nname = "a"\n[[step]]\ndo = "fly"\nclient = "a"\n')
write("scenario_toml", "empty.toml", b"")

# covclient_ioctl (fuzz/bodies/covclient_ioctl.rs): selector bits (1: the
# code is CODES[next byte]), the output length (u16), the encoders' entry
# count (u8), maximum (u32) and OID data length (u8, x8), then the request.
# The requests follow crates/covclient-abi/src/wire.rs.
u16 = lambda v: struct.pack("<H", v & 0xFFFF)
u64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
HDR = u32(1) + u32(0)
def handle(kind, index=1, gen=1):
    return u64((0xC7 << 56) | (kind << 48) | (gen << 32) | index)
ADAPTER, AF, SAPH, VC, PARTY = (handle(k) for k in range(1, 6))
def addr(b):
    return b + bytes(64 - len(b))
def wflow(rate=125000, sdu=1500):
    return b"".join(u32(v) for v in [rate, sdu, rate, NS, NS, 1, sdu, NS])
def params(flags=0, a=b"echo", ptype=0xC0C00002, alen=None):
    alen = len(a) if alen is None else alen
    return u32(flags) + u32(ptype) + u32(alen) + u32(0) + addr(a) + wflow() + wflow()
def ioctl(index, req, out_len=256, n=3, mx=64, oid_len=0, bits=1):
    return bytes([bits, index]) + u16(out_len) + bytes([n]) + u32(mx) + bytes([oid_len]) + req
requests = [
    ("get_version", b""),
    ("list_adapters", HDR + u32(0) + u32(0)),
    ("open_af", HDR + ADAPTER + u32(0xC0C0) + u32(1) + u32(0) + u32(0)),
    ("close_af", HDR + AF),
    ("register_sap", HDR + AF + u32(SAP) + u32(3) + u32(3) + u32(0) + addr(b"bob")),
    ("deregister_sap", HDR + SAPH),
    ("create_vc", HDR + AF),
    ("delete_vc", HDR + VC),
    ("make_call", HDR + VC + params()),
    ("answer_call", HDR + VC + u32(2) + u32(0xC0010012)),
    ("add_party", HDR + VC + params(1, b"carol")),
    ("drop_party", HDR + PARTY + u64(0) + u32(0) + u32(0) + bytes(64)),
    ("modify_qos", HDR + VC + u32(0) + u32(0) + wflow() + wflow()),
    ("close_call", HDR + VC + PARTY + u32(2) + u32(0) + addr(b"zz")),
    ("send", HDR + VC + u32(4) + u32(1500) + u32(2) + u32(7)),
    ("get_counters", HDR + VC + u32(1) + u32(0)),
    ("expect_pattern", HDR + VC + u32(2) + u32(7)),
    ("oid_set", HDR + ADAPTER + u32(0x00010106) + u32(1) + u32(4) + u32(0) + u32(1500)),
    ("wait_events", HDR + u32(16) + u32(0)),
]
for index, (name, req) in enumerate(requests):
    write("covclient_ioctl", name, ioctl(index, req))
    write("covclient_ioctl", name + "-short", ioctl(index, req[:-1]))
    write("covclient_ioctl", name + "-long", ioctl(index, req + b"\0"))
    write("covclient_ioctl", name + "-v2", ioctl(index, u32(2) + req[4:]))
    write("covclient_ioctl", name + "-no-output", ioctl(index, req, out_len=0))
write("covclient_ioctl", "oid-query-max", ioctl(17, HDR + VC + u32(0x00010202) + u32(0) + u32(4096) + u32(0), out_len=4112))
write("covclient_ioctl", "oid-query-huge", ioctl(17, HDR + VC + u32(0x00010202) + u32(0) + u32(NS) + u32(0)))
write("covclient_ioctl", "oid-set-lie", ioctl(17, HDR + AF + u32(1) + u32(1) + u32(4096) + u32(0) + b"abc"))
write("covclient_ioctl", "send-huge", ioctl(14, HDR + VC + u32(NS) + u32(NS) + u32(2) + u32(7)))
write("covclient_ioctl", "send-257", ioctl(14, HDR + VC + u32(257) + u32(65537) + u32(1) + u32(7)))
write("covclient_ioctl", "sap-len65", ioctl(4, HDR + AF + u32(SAP) + u32(65) + u32(1) + u32(0) + addr(b"bob")))
write("covclient_ioctl", "call-foreign-vc", ioctl(8, HDR + u64(0x1234) + params()))
write("covclient_ioctl", "call-stale-vc", ioctl(8, HDR + handle(4, 1, 0xFFFF) + params()))
write("covclient_ioctl", "call-af-as-vc", ioctl(8, HDR + AF + params()))
write("covclient_ioctl", "events-many", ioctl(18, HDR + u32(64) + u32(0), out_len=16 + 64 * 64, n=39, mx=NS))
write("covclient_ioctl", "unknown-code", bytes([0]) + u32(0xC0C0204C) + u16(64) + bytes([0]) + u32(0) + bytes([0]) + HDR)
write("covclient_ioctl", "stamped", bytes([1 | 2 | 4 | (3 << 5), 7]) + u16(16) + bytes([1]) + u32(1) + bytes([0]) + bytes(16))
