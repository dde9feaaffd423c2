"""Test helper for the amqp integration tests and the benchmark (pika, /usr/bin/python3).

  amqp_tool.py publish URL QUEUE N [--start K] [--bad M] [--multi] [--pace S] [--retry]
      publish N JSON messages {"id": K+i, ...} (persistent) to QUEUE through the default
      exchange, with publisher confirms; --bad M adds M malformed bodies; --multi adds one
      message holding three JSON lines; --retry reconnects and publishes again through a
      broker restart (at-least-once)
  amqp_tool.py count URL QUEUE          messages ready + unacked in QUEUE (declares nothing)
  amqp_tool.py drain URL QUEUE N [SECS] consume N messages (acking), print how many arrived
  amqp_tool.py declare URL QUEUE        declare a durable queue
  amqp_tool.py purge URL QUEUE
"""
import json
import sys
import time

import pika


def connect(url):
    p = pika.URLParameters(url)
    p.heartbeat = 0
    p.blocked_connection_timeout = 30
    return pika.BlockingConnection(p)


def publish(url, queue, n, start=0, bad=0, multi=False, pace=0.0, retry=False):
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    bodies = [json.dumps({"id": start + i, "kind": "bulk", "msg": "m%d" % (start + i)})
              for i in range(n)]
    bodies += ['{"id": %d, "broken' % (900000 + j) for j in range(bad)]
    if multi:
        bodies.append("\n".join(json.dumps({"id": 800000 + j, "kind": "multi"}) for j in range(3)))
    conn = ch = None
    i = 0
    batch = 200
    while i < len(bodies):
        try:
            if conn is None:
                conn = connect(url)
                ch = conn.channel()
                ch.confirm_delivery()
            for b in bodies[i:i + batch]:
                ch.basic_publish("", queue, b.encode(), props, mandatory=True)
            i += len(bodies[i:i + batch])
            if pace:
                time.sleep(pace)
        except (pika.exceptions.AMQPError, OSError) as e:
            if not retry:
                raise
            try:
                conn.close()
            except Exception:
                pass
            conn = ch = None
            time.sleep(0.2)
    conn.close()


def count(url, queue):
    conn = connect(url)
    ch = conn.channel()
    q = ch.queue_declare(queue, passive=True)
    n = q.method.message_count
    conn.close()
    return n


def main():
    cmd, url, queue = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "publish":
        args = sys.argv[5:]
        opt = lambda k, d: type(d)(args[args.index(k) + 1]) if k in args else d
        publish(url, queue, int(sys.argv[4]), start=opt("--start", 0), bad=opt("--bad", 0),
                multi="--multi" in args, pace=opt("--pace", 0.0), retry="--retry" in args)
    elif cmd == "count":
        print(count(url, queue))
    elif cmd == "declare":
        conn = connect(url)
        conn.channel().queue_declare(queue, durable=True)
        conn.close()
    elif cmd == "purge":
        conn = connect(url)
        conn.channel().queue_purge(queue)
        conn.close()
    elif cmd == "drain":
        n = int(sys.argv[4])
        secs = float(sys.argv[5]) if len(sys.argv) > 5 else 30
        conn = connect(url)
        ch = conn.channel()
        got = 0
        out = []
        deadline = time.time() + secs
        for method, props, body in ch.consume(queue, inactivity_timeout=0.5):
            if method is not None:
                got += 1
                out.append(body.decode())
                ch.basic_ack(method.delivery_tag)
            if got >= n or time.time() > deadline:
                break
        ch.cancel()
        conn.close()
        for b in out:
            sys.stderr.write(b + "\n")
        print(got)


if __name__ == "__main__":
    main()
