"""A collector for the integration tests: network events built with python3-flatbuffers and
the code `flatc --python` generates from schemas/netevent.fbs, pushed over CurveZMQ.

    collector.py GEN_DIR PORT SERVER_KEY COUNT [--start N] [--batch K] [--keys PUB SEC]
                 [--ips a,b,c] [--resp-ips x,y]

GEN_DIR holds the generated package (flatc --python -o GEN_DIR schemas/netevent.fbs).
Pushes COUNT GENERAL events, uid "C%08d" % (start + i); --batch K > 1 packs K size-prefixed
FlatBuffers per message (the zmq source's framing), else one plain buffer per message.
origIp / respIp cycle through --ips / --resp-ips. Prints "sent COUNT".
"""
import argparse
import sys


def build_general(b, i, orig_ip, resp_ip):
    from sluice.netevent import GeneralData as G
    from sluice.netevent import NetEvent as N

    uid = b.CreateString("C%08d" % i)
    o = b.CreateString(orig_ip)
    r = b.CreateString(resp_ip)
    p = b.CreateString("tcp")
    c = b.CreateString("py-collector")
    st = b.CreateString("SF")
    G.Start(b)
    G.AddDuration(b, 0.25 + i)
    G.AddOrigBytes(b, 100 + i)
    G.AddRespBytes(b, 2000 + i)
    G.AddConnState(b, st)
    G.AddLocalOrig(b, i % 2 == 0)
    g = G.End(b)
    N.Start(b)
    N.AddTs(b, 1700000000000000000 + i * 1000000)
    N.AddUid(b, uid)
    N.AddCollectorId(b, c)
    N.AddOrigIp(b, o)
    N.AddOrigPort(b, 1024 + i % 60000)
    N.AddRespIp(b, r)
    N.AddRespPort(b, 443)
    N.AddProto(b, p)
    N.AddGeneral(b, g)
    return N.End(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("port")
    ap.add_argument("server_key")
    ap.add_argument("count", type=int)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--keys", nargs=2)
    ap.add_argument("--ips", default="10.1.0.1,10.1.0.2,10.1.0.3")
    ap.add_argument("--resp-ips", default="10.1.0.4,10.9.0.1")
    a = ap.parse_args()
    sys.path.insert(0, a.gen)
    import flatbuffers
    import zmq

    ips, rips = a.ips.split(","), a.resp_ips.split(",")
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    if a.keys:
        pub, sec = a.keys[0].encode(), a.keys[1].encode()
    else:
        pub, sec = zmq.curve_keypair()
    s.curve_secretkey, s.curve_publickey, s.curve_serverkey = sec, pub, a.server_key.encode()
    s.connect("tcp://127.0.0.1:%s" % a.port)
    frames = []
    for k in range(a.count):
        i = a.start + k
        b = flatbuffers.Builder(256)
        root = build_general(b, i, ips[i % len(ips)], rips[i % len(rips)])
        if a.batch > 1:
            b.FinishSizePrefixed(root)
            frames.append(bytes(b.Output()))
            if len(frames) == a.batch:
                s.send(b"".join(frames))
                frames = []
        else:
            b.Finish(root)
            s.send(bytes(b.Output()))
    if frames:
        s.send(b"".join(frames))
    s.close(linger=10000)
    ctx.term()
    print("sent %d" % a.count)


if __name__ == "__main__":
    main()
