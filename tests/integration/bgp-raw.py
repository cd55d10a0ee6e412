#!/usr/bin/env python3
"""A raw BGP peer over a kernel TCP socket, for bad-input tests against tapnet
(tests/integration/bgp-bird.test.ts). Connects from SRC to DST:179 as AS 65010
and plays one MODE; prints what tapnet answered, one line per event:

  holdtime1   OPEN with hold time 1            -> expect NOTIFICATION 2/6
  badversion  OPEN with version 3              -> expect NOTIFICATION 2/1
  silent      OPEN hold 3, one KEEPALIVE, then nothing -> NOTIFICATION 4/0 after ~3 s
  badupdate   establish; UPDATE without NEXT_HOP (treat-as-withdraw: no NOTIFICATION),
              UPDATE whose AS_PATH holds 65001 (ignored), then a withdrawn-length
              overrun (after a line on stdin) -> NOTIFICATION 3/1
"""
import select, socket, struct, sys, time

MARKER = b'\xff' * 16

def msg(t, body=b''):
    return MARKER + struct.pack('!HB', 19 + len(body), t) + body

def open_msg(version=4, hold=90, asn=65010, ident='10.61.1.2'):
    caps = bytes.fromhex('010400010001') + b'\x02\x00' + b'\x41\x04' + struct.pack('!I', asn)
    opt = b'\x02' + bytes([len(caps)]) + caps
    return msg(1, struct.pack('!BHH4sB', version, asn, hold, socket.inet_aton(ident), len(opt)) + opt)

def update(attrs, nlri=b'', withdrawn=b''):
    return msg(2, struct.pack('!H', len(withdrawn)) + withdrawn + struct.pack('!H', len(attrs)) + attrs + nlri)

def read_msg(s, timeout):
    s.settimeout(timeout)
    head = b''
    while len(head) < 19:
        chunk = s.recv(19 - len(head))
        if not chunk:
            return None
        head += chunk
    length, t = struct.unpack('!HB', head[16:19])
    body = b''
    while len(body) < length - 19:
        chunk = s.recv(length - 19 - len(body))
        if not chunk:
            return None
        body += chunk
    return t, body

def report(s, timeout):
    """Prints messages until the connection closes or goes quiet for `timeout`."""
    start = time.time()
    while True:
        try:
            m = read_msg(s, timeout)
        except socket.timeout:
            print('QUIET')
            return
        if m is None:
            print('CLOSED')
            return
        t, body = m
        if t == 3:
            print(f'NOTIFICATION {body[0]}/{body[1]} after {time.time() - start:.1f}s')
        else:
            print({1: 'OPEN', 2: 'UPDATE', 4: 'KEEPALIVE', 5: 'ROUTE-REFRESH'}.get(t, f'type {t}'))

def drain(s):
    """Prints the types of the messages already received, without waiting."""
    names = []
    while True:
        try:
            m = read_msg(s, 0.2)
        except socket.timeout:
            break
        if m is None:
            names.append('CLOSED')
            break
        names.append({1: 'OPEN', 2: 'UPDATE', 3: f'NOTIFICATION {m[1][:2].hex()}', 4: 'KEEPALIVE'}.get(m[0], str(m[0])))
    print('RECEIVED ' + ' '.join(names))

def main():
    mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    s = socket.socket()
    s.bind((src, 0))
    s.connect((dst, 179))
    if mode == 'holdtime1':
        s.sendall(open_msg(hold=1))
    elif mode == 'badversion':
        s.sendall(open_msg(version=3))
    elif mode == 'silent':
        s.sendall(open_msg(hold=3) + msg(4))
        report(s, 10)
        return
    elif mode == 'badupdate':
        s.sendall(open_msg(hold=90) + msg(4))
        origin = bytes.fromhex('40010100')
        path = bytes.fromhex('4002060201') + struct.pack('!I', 65010)
        loop = bytes.fromhex('40020a0202') + struct.pack('!II', 65010, 65001)
        nh = bytes.fromhex('400304') + socket.inet_aton('10.61.1.2')
        time.sleep(0.5)
        s.sendall(update(origin + path, nlri=bytes.fromhex('18c0a863')))  # 192.168.99.0/24, no NEXT_HOP
        s.sendall(update(origin + loop + nh, nlri=bytes.fromhex('18c0a862')))  # 192.168.98.0/24, loop
        s.sendall(update(origin + path + nh, nlri=bytes.fromhex('18c0a861')))  # 192.168.97.0/24, fine
        time.sleep(1.0)
        drain(s)
        print('SENT')
        sys.stdout.flush()
        # The test looks at tapnet's table, then lets us go on (a line on stdin). Meanwhile, a KEEPALIVE each
        # second: tapnet's hold time may be short, and on a loaded machine the test's checks take seconds.
        while not select.select([sys.stdin], [], [], 1.0)[0]:
            s.sendall(msg(4))
        sys.stdin.readline()
        s.sendall(msg(2, bytes.fromhex('00ff0000')))
    report(s, 5)

main()
