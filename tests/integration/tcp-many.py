"""N concurrent HTTP connections to SERVER:PORT: all are opened first and held open
together, then each asks for /bytes/SIZE and checks the body.

usage: tcp-many.py SERVER PORT N SIZE  -> prints {"connected": c, "ok": k, "failed": f, "seconds": s}
"""
import asyncio
import json
import resource
import sys
import time

server, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
expected = bytes(i % 251 for i in range(size))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))


async def connect():
    return await asyncio.wait_for(asyncio.open_connection(server, port), 30)


async def fetch(conn):
    reader, writer = conn
    try:
        writer.write(f"GET /bytes/{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(-1), 60)
        head, _, body = data.partition(b"\r\n\r\n")
        return head.startswith(b"HTTP/1.1 200") and body == expected
    except Exception:
        return False
    finally:
        writer.close()


async def main():
    start = time.time()
    conns = await asyncio.gather(*[connect() for _ in range(n)], return_exceptions=True)
    good = [c for c in conns if not isinstance(c, BaseException)]
    results = await asyncio.gather(*[fetch(c) for c in good])
    print(json.dumps({"connected": len(good), "ok": sum(results), "failed": n - sum(results), "seconds": round(time.time() - start, 2)}))


asyncio.run(main())
