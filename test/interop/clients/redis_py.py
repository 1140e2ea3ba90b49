"""The differential scenarios through redis-py at its default options.

Run with Debian's interpreter and package (python3-redis, 4.3.4 on Debian 12):

    /usr/bin/python3 test/interop/clients/redis_py.py <port> [scenario...]

Prints the same JSON as runner.ts: {"<scenario>": {"ops": {"<label>": result}, "failure"?: why}}.
redis-py 4.3 speaks RESP2 only (RESP3 came in 5.0), so there is no resp3 scenario here.
"""

import json
import sys
import threading

import redis

SCENARIO_TIMEOUT = 6  # seconds; the socket timeout bounds every single command below it
SOCKET_TIMEOUT = 3


def normalize(value):
    if isinstance(value, Exception):
        return {"error": str(value)}
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, set):
        return sorted(normalize(v) for v in value)
    if isinstance(value, dict):
        return {str(normalize(k)): normalize(v) for k, v in value.items()}
    return value


def sorted_list(values):
    return sorted(str(normalize(v)) for v in values)


class Context:
    def __init__(self, client_name, name, port):
        self.port = port
        self.prefix = f"{client_name}:{name}:"
        self.ops = {}
        self.cleanups = []

    def connect(self, **extra):
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=SOCKET_TIMEOUT, **extra)
        self.cleanups.append(client.close)
        return client

    def op(self, label, f):
        try:
            value = f()
        except Exception as err:  # noqa: BLE001 - the server's error is the result
            self.ops[label] = normalize(err)
            return None
        self.ops[label] = normalize(value)
        return value

    def record(self, label, value):
        self.ops[label] = normalize(value)


def connect_(c):
    r = c.connect()
    c.op("ping", r.ping)
    c.op("echo", lambda: r.echo("hello"))


def strings(c):
    r = c.connect()
    k = c.prefix + "n"
    c.op("set", lambda: r.set(k, "9007199254740992"))
    c.op("incr past 2^53", lambda: r.incr(k))  # Python ints are exact
    c.op("get past 2^53", lambda: r.get(k))
    c.op("incrby negative", lambda: r.incrby(k, -9007199254740993))
    c.op("set max", lambda: r.set(k, "9223372036854775806"))
    c.op("incr to max", lambda: r.incr(k))
    c.op("get max", lambda: r.get(k))
    c.op("incr overflow", lambda: r.incr(k))
    c.op("decrby min", lambda: r.execute_command("DECRBY", k, "-9223372036854775808"))
    c.op("set text", lambda: r.set(c.prefix + "s", "abc"))
    c.op("incr text", lambda: r.incr(c.prefix + "s"))
    c.op("set nx existing", lambda: r.set(c.prefix + "s", "x", nx=True))
    c.op("get", lambda: r.get(c.prefix + "s"))
    c.op("get missing", lambda: r.get(c.prefix + "missing"))


def select(c):
    k = c.prefix + "k"
    db1 = c.connect(db=1)
    c.op("set in db 1", lambda: db1.set(k, "one"))
    c.op("get in db 1", lambda: db1.get(k))
    db0 = c.connect()
    c.op("get in db 0", lambda: db0.get(k))
    c.op("exists in db 0", lambda: db0.exists(k))
    again = c.connect(db=1)
    c.op("get from a new db 1 client", lambda: again.get(k))
    c.op("del in db 1", lambda: again.delete(k))


def multi(c):
    r = c.connect()
    k = c.prefix + "k"

    def run(build):
        with r.pipeline(transaction=True) as p:
            build(p)
            return p.execute(raise_on_error=False)

    c.op("exec", lambda: run(lambda p: p.set(k, "1").incr(k).get(k)))
    c.op("exec with a failing command", lambda: run(lambda p: p.set(c.prefix + "t", "x").incr(c.prefix + "t")))
    c.op("queuing error", lambda: run(lambda p: p.set(c.prefix + "q", "1").execute_command("SET", c.prefix + "q")))
    c.op("nothing ran after EXECABORT", lambda: r.get(c.prefix + "q"))
    c.op("exec without multi", lambda: r.execute_command("EXEC"))


def watch(c):
    b = c.connect()
    r = c.connect()
    k = c.prefix + "k"
    with r.pipeline(transaction=True) as p:
        c.op("watch", lambda: p.watch(k))
        c.op("concurrent set", lambda: b.set(k, "theirs"))

        def attempt():
            p.multi()
            p.set(k, "mine")
            return p.execute()

        c.op("exec after a change", attempt)  # WatchError
    c.op("value kept", lambda: r.get(k))
    with r.pipeline(transaction=True) as p:
        c.op("watch again", lambda: p.watch(k))

        def untouched():
            p.multi()
            p.set(k, "mine")
            return p.execute()

        c.op("exec untouched", untouched)
    c.op("value set", lambda: r.get(k))
    c.op("unwatch", lambda: r.unwatch())


def pubsub(c):
    sub_client = c.connect()
    pub = c.connect()
    channel = c.prefix + "news"
    sub = sub_client.pubsub()
    c.cleanups.append(sub.close)
    c.op("subscribe", lambda: sub.subscribe(channel))
    c.op("psubscribe", lambda: sub.psubscribe(c.prefix + "n*"))
    confirmations = []
    got = []
    # Read the two confirmations and then the two messages, each wait bounded.
    for _ in range(20):
        m = sub.get_message(timeout=0.2)
        if m is not None:
            confirmations.append([normalize(m["type"]), normalize(m["data"])])
        if len(confirmations) == 2:
            break
    c.record("confirmations", confirmations)
    c.op("numsub", lambda: pub.pubsub_numsub(channel))
    c.op("publish", lambda: pub.publish(channel, "hello"))
    for _ in range(20):
        m = sub.get_message(timeout=0.2)
        if m is not None and m["type"] in ("message", "pmessage"):
            got.append(json.dumps([m["type"]] + ([normalize(m["pattern"])] if m["pattern"] else []) + [normalize(m["channel"]), normalize(m["data"])]))
        if len(got) == 2:
            break
    c.record("received", sorted(got))
    c.op("unsubscribe", lambda: sub.unsubscribe(channel))
    c.op("punsubscribe", lambda: sub.punsubscribe())
    # redis-py sends UNSUBSCRIBE without waiting for its confirmation; the
    # PUBLISH below goes out on another connection and could overtake it.
    # Read both confirmations first, so the count is not a race.
    unsubscribed = []
    for _ in range(20):
        m = sub.get_message(timeout=0.2)
        if m is not None and m["type"] in ("unsubscribe", "punsubscribe"):
            unsubscribed.append(normalize(m["type"]))
        if len(unsubscribed) == 2:
            break
    c.record("unsubscribe confirmations", sorted(unsubscribed))
    c.op("publish to nobody", lambda: pub.publish(channel, "again"))


def scan(c):
    r = c.connect()
    writer = c.connect()
    stable = [f"{c.prefix}stable:{i}" for i in range(300)]
    doomed = [f"{c.prefix}doomed:{i}" for i in range(100)]
    r.mset({k: "v" for k in stable + doomed})
    r.hset(c.prefix + "hash", "f", "v")
    seen = set()

    def iterate():
        batch = 0
        for key in r.scan_iter(match=c.prefix + "*", count=20):
            seen.add(normalize(key))
            # Every 20 keys the table grows (new keys) and shrinks (doomed keys): a rehash
            # must not make the cursor skip a key present throughout.
            if len(seen) % 20 == 0:
                p = writer.pipeline(transaction=True)
                p.mset({f"{c.prefix}new:{batch}:{i}": "v" for i in range(40)})
                gone = doomed[batch * 10 : batch * 10 + 10]
                if gone:
                    p.delete(*gone)
                p.execute()
                batch += 1
        return "done"

    c.op("scan_iter under writes", iterate)
    c.record("stable keys missed", [k for k in stable if k not in seen])
    c.record("hash seen", (c.prefix + "hash") in seen)
    c.record("every key seen matches", all(k.startswith(c.prefix) for k in seen))
    c.op("scan_iter TYPE hash", lambda: sorted_list(set(r.scan_iter(match=c.prefix + "*", _type="hash", count=100))))


def hashes(c):
    r = c.connect()
    k = c.prefix + "h"
    c.op("hset", lambda: r.hset(k, mapping={"a": "1", "b": "2", "c": "3"}))
    c.op("hset existing", lambda: r.hset(k, "a", "10"))
    c.op("hget", lambda: r.hget(k, "a"))
    c.op("hmget", lambda: r.hmget(k, ["a", "nope", "c"]))
    c.op("hgetall", lambda: dict(sorted(normalize(r.hgetall(k)).items())))
    c.op("hincrby", lambda: r.hincrby(k, "b", 40))
    c.op("hincrby text", lambda: (r.hset(k, "t", "x"), r.hincrby(k, "t", 1))[1])
    c.op("hexists", lambda: r.hexists(k, "b"))
    c.op("hdel", lambda: r.hdel(k, "c", "nope"))
    c.op("hlen", lambda: r.hlen(k))
    c.op("hkeys", lambda: sorted_list(r.hkeys(k)))
    c.op("hvals", lambda: sorted_list(r.hvals(k)))
    c.op("hget on a string", lambda: (r.set(c.prefix + "s", "x"), r.hget(c.prefix + "s", "a"))[1])
    c.op("hgetall missing", lambda: r.hgetall(c.prefix + "none"))


def sets(c):
    r = c.connect()
    a, b = c.prefix + "a", c.prefix + "b"
    c.op("sadd", lambda: r.sadd(a, "x", "y", "z"))
    c.op("sadd again", lambda: r.sadd(a, "x", "w"))
    c.op("sadd b", lambda: r.sadd(b, "y", "q"))
    c.op("smembers", lambda: sorted_list(r.smembers(a)))
    c.op("sismember", lambda: r.sismember(a, "y"))
    c.op("sismember no", lambda: r.sismember(a, "nope"))
    c.op("scard", lambda: r.scard(a))
    c.op("srem", lambda: r.srem(a, "w", "nope"))
    c.op("sinter", lambda: sorted_list(r.sinter(a, b)))
    c.op("sunion", lambda: sorted_list(r.sunion(a, b)))
    c.op("sdiff", lambda: sorted_list(r.sdiff(a, b)))
    c.op("spop is a member", lambda: normalize(r.spop(a)) in ("x", "y", "z"))
    c.op("scard after spop", lambda: r.scard(a))
    c.op("sadd on a string", lambda: (r.set(c.prefix + "s", "x"), r.sadd(c.prefix + "s", "a"))[1])


def clientname(c):
    r = c.connect()
    c.op("getname unset", r.client_getname)
    c.op("setname", lambda: r.client_setname("differential"))
    c.op("getname", r.client_getname)
    c.op("setname with a space", lambda: r.client_setname("two words"))
    c.op("id is an integer", lambda: isinstance(r.client_id(), int))
    c.op("unknown subcommand", lambda: r.execute_command("CLIENT", "NOSUCH"))


SCENARIOS = {
    "connect": connect_,
    "strings": strings,
    "select": select,
    "multi": multi,
    "watch": watch,
    "pubsub": pubsub,
    "scan": scan,
    "hashes": hashes,
    "sets": sets,
    "clientname": clientname,
}


def run_one(name, port):
    c = Context("redis-py", name, port)
    result = {"ops": c.ops}
    # A scenario runs in a daemon thread so that a hang is reported as 'timeout', like runner.ts.
    failure = []

    def body():
        try:
            SCENARIOS[name](c)
        except Exception as err:  # noqa: BLE001 - reported, not raised
            failure.append(str(err) or type(err).__name__)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(SCENARIO_TIMEOUT)
    if thread.is_alive():
        failure.append("timeout")
    for cleanup in reversed(c.cleanups):
        try:
            cleanup()
        except Exception:  # noqa: BLE001, S110 - closing a broken client may fail: nothing to release
            pass
    result["ops"] = dict(c.ops)
    if failure:
        result["failure"] = failure[0]
    return result


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        print(f"usage: {sys.argv[0]} <port> [{'|'.join(SCENARIOS)}...]", file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])
    names = sys.argv[2:] or list(SCENARIOS)
    out = {}
    for name in names:
        out[name] = run_one(name, port) if name in SCENARIOS else {"ops": {}, "failure": "no such scenario"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    # Daemon threads of a timed-out scenario must not keep the process alive.
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
