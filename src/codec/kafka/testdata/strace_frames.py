#!/usr/bin/env python3
"""Extracts Kafka frames from an strace log of a client talking to a broker.

Usage: strace_frames.py TRACE OUTDIR PREFIX

TRACE comes from
  strace -f -qq -e trace=connect,accept,accept4,sendmsg,sendto,write,writev,\
recvmsg,recvfrom,read -xx -s 1000000 -o TRACE <client command>
Bytes a client sends on sockets it connect()ed are split into request
frames, bytes it receives there into response frames; bytes a broker sends
on accept()ed sockets (in-process librdkafka mock cluster) are responses too. Each frame body (without the int32 size) is
written to OUTDIR/PREFIX_<nn>_req_<api>v<version>.bin or
OUTDIR/PREFIX_<nn>_resp_<correlation id>.bin.
"""
import os
import re
import sys

HEX = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def unhex(s):
    return bytes(int(s[i + 2:i + 4], 16) for i in range(0, len(s), 4))


def main():
    trace, outdir, prefix = sys.argv[1:4]
    role = {}  # fd -> (direction, generation); fds are reused, so track the latest
    gen = 0
    streams = {}  # (pid, fd, direction) -> bytearray
    order = []
    pending = {}  # pid -> first half of an "<unfinished ...>" line
    for raw in open(trace, encoding='latin-1'):
        line = raw.rstrip('\n')
        u = re.match(r'(\d+)\s+(.*) <unfinished \.\.\.>$', line)
        if u:
            pending[u.group(1)] = u.group(1) + ' ' + u.group(2)
            continue
        r = re.match(r'(\d+)\s+<\.\.\. \w+ resumed>(.*)$', line)
        if r:
            if r.group(1) not in pending:
                continue
            line = pending.pop(r.group(1)) + r.group(2)
        m = re.match(r'(\d+)\s+(\w+)\((\d+), (.*)\) = (-?\d+)', line.strip())
        if not m:
            continue
        pid, call, fd, args, rc = m.group(1), m.group(2), int(m.group(3)), m.group(4), int(m.group(5))
        if call == 'connect' and 'AF_INET' in args:
            gen += 1
            role[fd] = ('req', gen)
            continue
        if call in ('accept', 'accept4') and rc >= 0:
            gen += 1
            role[rc] = ('resp', gen)
            continue
        sending = call in ('sendmsg', 'sendto', 'write', 'writev')
        receiving = call in ('recvmsg', 'recvfrom', 'read', 'readv')
        if (sending or receiving) and rc > 0:
            if fd not in role:
                continue
            side, g = role[fd]
            # Requests: what a client sends / a broker receives.
            is_req = (side == 'req') == sending
            if side == 'resp' and receiving:
                continue  # the client side of the same connection has it
            key = ('req' if is_req else 'resp', g)
            data = b''.join(unhex(h) for h in HEX.findall(args))[:rc]
            if key not in streams:
                streams[key] = bytearray()
                order.append(key)
            streams[key] += data
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for key in order:
        buf = streams[key]
        pos = 0
        while pos + 4 <= len(buf):
            size = int.from_bytes(buf[pos:pos + 4], 'big')
            if pos + 4 + size > len(buf):
                break
            body = bytes(buf[pos + 4:pos + 4 + size])
            pos += 4 + size
            if key[0] == 'req':
                api = int.from_bytes(body[0:2], 'big')
                ver = int.from_bytes(body[2:4], 'big')
                name = '%s_%02d_req_api%dv%d.bin' % (prefix, n, api, ver)
            else:
                corr = int.from_bytes(body[0:4], 'big')
                name = '%s_%02d_resp_corr%d.bin' % (prefix, n, corr)
            with open(os.path.join(outdir, name), 'wb') as f:
                f.write(body)
            n += 1
    print('wrote %d frames' % n)


if __name__ == '__main__':
    main()
