#!/usr/bin/env python3
"""DNS timings from inside a container's network namespace, for tests/bench/network.sh.

  dns-probe.py lookups  NETNS SERVER NAME COUNT          COUNT A queries for NAME, one after another: p50, p99, max
  dns-probe.py first-try NETNS SERVER RUNS -- CMD...     RUNS times: run CMD with {name} replaced by a new name (a
                                                         `run -d --name {name}`), then ask for that name at once and
                                                         again every millisecond until it resolves

NETNS is a path such as /proc/PID/ns/net. The query socket is made inside it; everything else (CMD included) runs in
the namespace this process started in, so a daemonless engine sets its containers up where it always does.
"""
import ctypes, os, random, socket, statistics, struct, subprocess, sys, time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def socket_in(netns, server):
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + netns)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((server, 53))
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(target)
        os.close(home)
    return s


def query(s, name, timeout):
    """One A query; True when answered with at least one record."""
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    s.settimeout(timeout)
    s.send(packet)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = s.recv(512)
        except socket.timeout:
            return False
        rid, flags, _, answers = struct.unpack(">HHHH", reply[:8])
        if rid == qid:
            return flags & 0xF == 0 and answers > 0
        if time.monotonic() > deadline:
            return False


def lookups(netns, server, name, count):
    s = socket_in(netns, server)
    times, failed = [], 0
    for _ in range(count):
        t0 = time.perf_counter_ns()
        ok = query(s, name, 2.0)
        t1 = time.perf_counter_ns()
        if ok:
            times.append((t1 - t0) / 1e3)
        else:
            failed += 1
    times.sort()
    if not times:
        print(f"no answer for {name} from {server}")
        return 1
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{count} lookups of {name}: p50 {p(0.50):.0f} µs, p99 {p(0.99):.0f} µs, max {times[-1]:.0f} µs, "
          f"mean {statistics.mean(times):.0f} µs, unanswered {failed}")
    return 0


def first_try(netns, server, runs, cmd):
    s = socket_in(netns, server)
    first, delays, never = 0, [], 0
    tag = f"{os.getpid()}x{random.randrange(1000)}"
    for i in range(runs):
        name = f"dnsfirst{tag}n{i}"
        subprocess.run([a.replace("{name}", name) for a in cmd], check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        tries = 1
        while not query(s, name, 0.5):
            if time.monotonic() - t0 > 5:
                never += 1
                break
            tries += 1
            time.sleep(0.001)
        else:
            delays.append(time.monotonic() - t0)
            first += tries == 1
    slowest = f"slowest {max(delays) * 1e3:.1f} ms from run's return to the answer" if delays else "none resolved"
    print(f"{runs} new names: {first} resolved on the first query after run -d returned, {never} not within 5 s; {slowest}")
    return 0 if never == 0 else 1


def main(argv):
    mode = argv[1]
    if mode == "lookups":
        return lookups(argv[2], argv[3], argv[4], int(argv[5]))
    if mode == "first-try":
        sep = argv.index("--")
        return first_try(argv[2], argv[3], int(argv[4]), argv[sep + 1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
