"""impacket's DCE/RPC client against Switchboard's example server
(ncacn_ip_tcp): every operation, large payloads, small fragments, an
unknown operation number. Exits non-zero on the first wrong answer.

Usage: python impacket_example.py PORT [MAX_FRAGMENT]
       python impacket_example.py --epm PORT   (impacket's hept_map on our mapper at 135)
"""
import sys

from impacket.dcerpc.v5 import transport
from impacket.dcerpc.v5.dtypes import LONG, LONGLONG, LPWSTR, NULL
from impacket.dcerpc.v5.ndr import NDRCALL, NDRSTRUCT, NDRUniConformantArray
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin

EXAMPLE = ('5b9f3a4e-7c21-4d6a-9e0b-3f8a2c1d7e64', '1.0')


class Add(NDRCALL):
    opnum = 0
    structure = (('a', LONG), ('b', LONG))


class AddResponse(NDRCALL):
    structure = (('ReturnValue', LONG),)


class Length(NDRCALL):
    opnum = 1
    structure = (('text', LPWSTR),)


class LengthResponse(NDRCALL):
    structure = (('ReturnValue', LONG),)


class LongArray(NDRUniConformantArray):
    item = '<l'


class Sum(NDRCALL):
    opnum = 2
    structure = (('count', LONG), ('values', LongArray))


class SumResponse(NDRCALL):
    structure = (('ReturnValue', LONGLONG),)


class ByteArray(NDRUniConformantArray):
    item = 'c'


class Reverse(NDRCALL):
    opnum = 3
    structure = (('size', LONG), ('data', ByteArray))


class ReverseResponse(NDRCALL):
    structure = (('reply', ByteArray),)


class ITEM(NDRSTRUCT):
    structure = (('id', LONG), ('name', LPWSTR))


class ItemArray(NDRUniConformantArray):
    item = ITEM


class CountNamed(NDRCALL):
    opnum = 4
    structure = (('count', LONG), ('items', ItemArray))


class CountNamedResponse(NDRCALL):
    structure = (('total_chars', LONG), ('ReturnValue', LONG))


class Missing(NDRCALL):
    opnum = 9
    structure = (('x', LONG),)


def call(dce, request, **fields):
    for name, value in fields.items():
        request[name] = value
    # checkError=False: these replies end in a return value, not a status.
    return dce.request(request, checkError=False)


def expect(what, got, wanted):
    if got != wanted:
        sys.exit(f"FAIL {what}: got {got!r}, wanted {wanted!r}")
    print(f"ok {what}")


def epm(port):
    from impacket.dcerpc.v5 import epm as impacket_epm
    binding = impacket_epm.hept_map('127.0.0.1', uuidtup_to_bin(EXAMPLE), protocol='ncacn_ip_tcp')
    expect("hept_map finds the example", binding, f'ncacn_ip_tcp:127.0.0.1[{port}]')
    listed = [
        (entry['tower']['Floors'][0]['InterfaceUUID'], impacket_epm.PrintStringBinding(entry['tower']['Floors']))
        for entry in impacket_epm.hept_lookup('127.0.0.1')
    ]
    expect("hept_lookup lists the example", (uuidtup_to_bin(EXAMPLE)[:16], f'ncacn_ip_tcp:127.0.0.1[{port}]') in listed, True)


def main():
    if sys.argv[1] == '--epm':
        return epm(sys.argv[2])
    port = sys.argv[1]
    fragment = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rpc = transport.DCERPCTransportFactory(f'ncacn_ip_tcp:127.0.0.1[{port}]')
    dce = rpc.get_dce_rpc()
    if fragment:
        dce.set_max_fragment_size(fragment)
    dce.connect()
    dce.bind(uuidtup_to_bin(EXAMPLE))
    tag = f" (fragments of {fragment} bytes)" if fragment else ""
    for a, b, total in [(40, 2, 42), (-5, 3, -2), (2147483647, 1, -2147483648)]:
        expect(f"Add({a}, {b}){tag}", call(dce, Add(), a=a, b=b)['ReturnValue'], total)
    for text, length in [('héllo', 5), ('', 0), ('a' * 3000, 3000), ('😀', 2)]:
        expect(f"Length({len(text)} chars){tag}", call(dce, Length(), text=text + '\x00')['ReturnValue'], length)
    expect(f"Length(NULL){tag}", call(dce, Length(), text=NULL)['ReturnValue'], -1)
    values = [1, -2, 2147483647, 2147483647]
    expect(f"Sum{tag}", call(dce, Sum(), count=len(values), values=values)['ReturnValue'], sum(values))
    for size in [1, 1000, 70000]:
        data = bytes((i * 7) % 256 for i in range(size))
        reply = call(dce, Reverse(), size=size, data=[bytes([b]) for b in data])['reply']
        expect(f"Reverse({size} bytes){tag}", b''.join(reply), data[::-1])
    for names in [['ab', None, 'cde'], [], [None, None], ['x' * 500] * 20]:
        items = []
        for i, name in enumerate(names):
            item = ITEM()
            item['id'] = i
            item['name'] = NULL if name is None else name + '\x00'
            items.append(item)
        reply = call(dce, CountNamed(), count=len(items), items=items)
        named = [n for n in names if n is not None]
        expect(f"CountNamed({len(names)} items){tag}", (reply['ReturnValue'], reply['total_chars']),
               (len(named), sum(len(n) for n in named)))
    try:
        call(dce, Missing(), x=1)
        sys.exit("FAIL an unknown opnum was answered")
    except DCERPCException as e:
        expect(f"unknown opnum fault{tag}", 'nca_s_op_rng_error' in str(e), True)
    dce.disconnect()


if __name__ == '__main__':
    main()
