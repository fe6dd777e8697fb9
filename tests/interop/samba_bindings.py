"""Samba's Python bindings (raw ClientConnection requests) against our
example server: every operation, little- and big-endian ([bigendian]: the
client writes its PDUs and we unpack its stubs big-endian); an NDR64-only
offer is refused per context the way Samba refuses it; and a raw bind with
NDR64, NDR20 and the bind-time feature negotiation gets one result per
context, in order, then works over NDR20.

Run with Debian's /usr/bin/python3 and scripts/samba-env sourced:
    python3 samba_bindings.py SMB_CONF PORT
"""
import socket
import struct
import sys

from samba import param
from samba.dcerpc import base

EXAMPLE = ("5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64", 1)
INT_MAX, INT_MIN = 2**31 - 1, -(2**31)


def check(what, got, want):
    if got != want:
        raise SystemExit(f"FAIL {what}: got {got!r}, want {want!r}")
    print(f"ok {what}")


class Stub:
    """NDR20 stub data in one byte order ('<' or '>')."""

    def __init__(self, order):
        self.o, self.b, self.ref = order, b"", 0x20000

    def align(self, n):
        self.b += b"\0" * (-len(self.b) % n)

    def long(self, v):
        self.align(4)
        self.b += struct.pack(self.o + "i", v)
        return self

    def ulong(self, v):
        self.align(4)
        self.b += struct.pack(self.o + "I", v)
        return self

    def pointer(self, present):
        self.ulong(self.ref if present else 0)
        self.ref += 4
        return self

    def wstring(self, text):
        units = text.encode("utf-16-le")
        n = len(units) // 2 + 1
        self.ulong(n).ulong(0).ulong(n)
        for i in range(0, len(units), 2):
            self.b += struct.pack(self.o + "H", int.from_bytes(units[i:i + 2], "little"))
        self.b += b"\0\0"
        return self

    def raw(self, data):
        self.b += data
        return self


def calls(conn, order, label):
    # Our server answers little-endian whatever the client wrote (as Samba does).
    le = lambda fmt, data: struct.unpack("<" + fmt, data)
    s = lambda: Stub(order)
    check(f"Add(40, 2) {label}", le("i", conn.request(0, s().long(40).long(2).b)), (42,))
    check(f"Add(INT_MAX, 1) wraps {label}", le("i", conn.request(0, s().long(INT_MAX).long(1).b)), (INT_MIN,))
    check(f"Length('héllo') {label}", le("i", conn.request(1, s().pointer(True).wstring("héllo").b)), (5,))
    check(f"Length(NULL) {label}", le("i", conn.request(1, s().pointer(False).b)), (-1,))
    values = [1, 2, INT_MAX, INT_MIN, 7]
    st = s().long(len(values)).ulong(len(values))
    for v in values:
        st.long(v)
    check(f"Sum {label}", le("q", conn.request(2, st.b)), (sum(values),))
    data = bytes(i % 251 for i in range(70000))
    reply = conn.request(3, s().long(len(data)).ulong(len(data)).raw(data).b)
    check(f"Reverse(70000 bytes) {label}", (le("I", reply[:4])[0], reply[4:] == data[::-1]), (70000, True))
    items = [(1, "ab"), (2, None), (3, "cde")]
    st = s().long(3).ulong(3)
    for ident, name in items:
        st.long(ident).pointer(name is not None)
    for _, name in items:
        if name is not None:
            st.wstring(name)
    check(f"CountNamed {label}", le("ii", conn.request(4, st.b)), (5, 2))
    try:
        conn.request(9, b"")
        raise SystemExit(f"FAIL unknown opnum {label}: no fault")
    except SystemExit:
        raise
    except Exception as e:  # Samba maps the fault to an NTSTATUS
        text = repr(e)
        check(f"unknown opnum faults {label} ({text})", "RPC_PROCNUM_OUT_OF_RANGE" in text or "0xc002002e" in text.lower()
              or "3221356590" in text, True)


def raw_bind(port):
    """A bind of three contexts: NDR64 only, NDR20, and the bind-time feature
    negotiation; then Add over context 1."""
    uuid = lambda text: (lambda p: struct.pack("<IHH", int(p[0], 16), int(p[1], 16), int(p[2], 16))
                         + bytes.fromhex(p[3] + p[4]))(text.split("-"))
    iface = uuid(EXAMPLE[0]) + struct.pack("<HH", 1, 0)
    ndr20 = uuid("8a885d04-1ceb-11c9-9fe8-08002b104860") + struct.pack("<I", 2)
    ndr64 = uuid("71710533-beba-4937-8319-b5dbef9ccc36") + struct.pack("<I", 1)
    btfn = uuid("6cb71c2c-9812-4540-0300-000000000000") + struct.pack("<I", 1)
    ctx = lambda i, ts: struct.pack("<HBB", i, 1, 0) + iface + ts
    body = struct.pack("<HHIB3x", 4280, 4280, 0, 3) + ctx(0, ndr64) + ctx(1, ndr20) + ctx(2, btfn)
    pdu = lambda ptype, call, body: struct.pack("<BBBB4sHHI", 5, 0, ptype, 3, b"\x10\0\0\0", 16 + len(body), 0, call) + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(pdu(11, 1, body))
        ack = recv_pdu(s)
        check("bind answered with bind_ack", ack[2], 12)
        sec_len = struct.unpack_from("<H", ack, 24)[0]
        at = 26 + sec_len
        at += -at % 4
        n = ack[at]
        results = []
        for i in range(n):
            r = at + 4 + i * 24
            result, reason = struct.unpack_from("<HH", ack, r)
            results.append((result, reason, ack[r + 4:r + 24] == (ndr20 if result == 0 else b"\0" * 20)))
        check("NDR64 refused (reason 2), NDR20 accepted, negotiation acknowledged (keep connection on orphan)", results,
              [(2, 2, True), (0, 0, True), (3, 2, True)])
        s.sendall(pdu(0, 2, struct.pack("<IHH", 8, 1, 0) + struct.pack("<ii", 40, 2)))
        resp = recv_pdu(s)
        check("Add over the NDR20 context of a mixed bind", (resp[2], struct.unpack_from("<i", resp, 24)[0]), (2, 42))


def recv_pdu(s):
    head = b""
    while len(head) < 16:
        chunk = s.recv(16 - len(head))
        if not chunk:
            raise SystemExit("FAIL connection closed")
        head += chunk
    length = struct.unpack_from("<H", head, 8)[0]
    body = head
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            raise SystemExit("FAIL connection closed")
        body += chunk
    return body


def main():
    conf, port = sys.argv[1], int(sys.argv[2])
    lp = param.LoadParm()
    lp.load(conf)
    calls(base.ClientConnection(f"ncacn_ip_tcp:127.0.0.1[{port}]", EXAMPLE, lp), "<", "(little-endian)")
    calls(base.ClientConnection(f"ncacn_ip_tcp:127.0.0.1[{port},bigendian]", EXAMPLE, lp), ">", "(big-endian)")
    try:
        base.ClientConnection(f"ncacn_ip_tcp:127.0.0.1[{port},ndr64]", EXAMPLE, lp)
        raise SystemExit("FAIL an NDR64-only offer was accepted")
    except SystemExit:
        raise
    except Exception as e:
        check(f"an NDR64-only offer is refused as Samba refuses it ({e!r})",
              "not supported" in repr(e) or "UNSUPPORTED_NAME_SYNTAX" in repr(e), True)
    raw_bind(port)


if __name__ == "__main__":
    main()
