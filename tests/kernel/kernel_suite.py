#!/usr/bin/python3
"""The real-kernel suite: rulec's nft and iptables outputs against the evaluator.

Three network namespaces joined by veth pairs:
  client  192.0.2.2-99/24, 2001:db8:1::2-63/64 on "wan"   (host policies are loaded here)
  router  "lan" 192.0.2.1/24 2001:db8:1::1/64, "wan" 198.51.100.1/24 2001:db8:2::1/64,
          forwarding both families (router policies)
  server  198.51.100.2-99/24, 2001:db8:2::2-63/64 and 203.0.113.10 on "s0"
Neighbours are static, so a policy that blocks ICMPv6 does not also break
neighbour discovery (which the evaluator does not model).
Each scenario (a policy and its probes) is compiled for each backend, loaded,
and probed with real traffic (tcp.py: TCP handshakes, UDP, raw GRE and ESP,
ICMP echo, PPTP with enhanced GRE); every outcome is compared with what
rulec_kernel_expect (the reference evaluator, with state) predicts.
Then the differential test: random policies with fixed seeds, random probes;
every third policy is loaded into the client as a host policy, the others
into the router. Then policies of many host rules of a few shapes, whose nft
rules are merged into sets (lib/backends/nft_merge.hpp).

Environment: RULEC_BIN, RULEC_EXPECT (binaries), RULEC_KERNEL_SEEDS (number of
random policies, default 12), RULEC_KERNEL_FIRST_SEED (default 1),
RULEC_KERNEL_MERGE_SEEDS (number of merging policies, default 3),
RULEC_KERNEL_TAG (prefix of the namespaces' names; tests/suites/kernel.sh sets
it so that its own trap can delete them too).
Exit status 0 when every probe agrees, 1 otherwise, 2 when the suite cannot run.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROBE = os.path.join(HERE, "probe.py")
PY = "/usr/bin/python3"
TAG = os.environ.get("RULEC_KERNEL_TAG", "rck%d" % os.getpid())
NS = {"client": TAG + "c", "router": TAG + "r", "server": TAG + "s"}
ADDR = {"router-lan": "192.0.2.1", "router-wan": "198.51.100.1"}
ADDR6 = {"router-lan": "2001:db8:1::1", "router-wan": "2001:db8:2::1"}
CLIENTS = ["192.0.2.%d" % i for i in range(2, 100)]
SERVERS = ["198.51.100.%d" % i for i in range(2, 100)]
CLIENTS6 = ["2001:db8:1::%x" % i for i in range(2, 100)]
SERVERS6 = ["2001:db8:2::%x" % i for i in range(2, 100)]
# Each backend: the targets to compile and the tool that loads each output.
BACKENDS = {"nft": [("nft", ["nft", "-f"])],
            "iptables": [("iptables", ["iptables-restore"]), ("ip6tables", ["ip6tables-restore"])]}
servers = []


def sh(*cmd, ns=None, check=True, stdin=None, timeout=60):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(full), r.stderr.strip()))
    return r


def cleanup():
    for p in servers:
        p.kill()
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def setup(log_path):
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "wan", "netns", NS["client"], "type", "veth", "peer", "name", "lan", "netns", NS["router"])
    sh("ip", "link", "add", "s0", "netns", NS["server"], "type", "veth", "peer", "name", "wan", "netns", NS["router"])
    mac = {(node, dev): link_address(node, dev)
           for node, dev in (("client", "wan"), ("router", "lan"), ("router", "wan"), ("server", "s0"))}
    batch = {"client": ["addr add %s/24 dev wan" % a for a in CLIENTS] +
                       ["addr add %s/64 dev wan nodad" % a for a in CLIENTS6] + ["link set wan up"] +
                       ["neigh add %s lladdr %s dev wan nud permanent" % (ADDR6["router-lan"], mac["router", "lan"])],
             "server": ["addr add %s/24 dev s0" % a for a in SERVERS] +
                       ["addr add %s/64 dev s0 nodad" % a for a in SERVERS6] +
                       ["addr add 203.0.113.10/32 dev s0", "link set s0 up"] +
                       ["neigh add %s lladdr %s dev s0 nud permanent" % (ADDR6["router-wan"], mac["router", "wan"])],
             "router": ["addr add 192.0.2.1/24 dev lan", "addr add 198.51.100.1/24 dev wan",
                        "addr add 2001:db8:1::1/64 dev lan nodad", "addr add 2001:db8:2::1/64 dev wan nodad",
                        "link set lan up", "link set wan up",
                        "route add 203.0.113.0/24 via 198.51.100.2"] +
                       ["neigh add %s lladdr %s dev lan nud permanent" % (a, mac["client", "wan"]) for a in CLIENTS6] +
                       ["neigh add %s lladdr %s dev wan nud permanent" % (a, mac["server", "s0"]) for a in SERVERS6]}
    for node, lines in batch.items():
        sh("ip", "-batch", "-", ns=NS[node], stdin="\n".join(lines) + "\n")
    sh("ip", "route", "add", "default", "via", "192.0.2.1", ns=NS["client"])
    sh("ip", "route", "add", "default", "via", "198.51.100.1", ns=NS["server"])
    sh("ip", "-6", "route", "add", "default", "via", ADDR6["router-lan"], ns=NS["client"])
    sh("ip", "-6", "route", "add", "default", "via", ADDR6["router-wan"], ns=NS["server"])
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", ns=NS["router"])
    for ns in NS.values():
        p = subprocess.Popen(["ip", "netns", "exec", ns, PY, PROBE, "serve", log_path],
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ, RULEC_PROBE_LIFETIME="900"))
        servers.append(p)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("the responder in %s did not start" % ns)


def link_address(node, dev):
    return json.loads(sh("ip", "-j", "link", "show", "dev", dev, ns=NS[node]).stdout)[0]["address"]


# ------------------------------------------------------------- expectations

def path(mode, src_node, dst_node):
    """The judgements (direction, interface) a packet meets from src_node to dst_node."""
    if mode == "host":  # the policy is on the client, its uplink is "wan"
        return [("out", "wan")] if src_node == "client" else [("in", "wan")] if dst_node == "client" else []
    hops = []
    side = {"client": "lan", "server": "wan"}
    if src_node != "router":
        hops.append(("in", side[src_node]))
    if dst_node != "router":
        hops.append(("out", side[dst_node]))
    return hops


def packet_text(hops, proto, src, sport, dst, dport, icmp_type=None):
    if not hops:
        return "-"
    if proto in ("tcp", "udp"):
        fmt = "%s [%s]:%d -> [%s]:%d" if ":" in src else "%s %s:%d -> %s:%d"
        body = fmt % (proto, src, sport, dst, dport)
    else:
        body = "%s %s -> %s" % (proto, src, dst)
    if icmp_type:
        body += " type " + icmp_type
    return ";".join("%s on %s %s" % (d, i, body) for d, i in hops)


def exchanges(mode, p):
    """(request packets, reply packets) per exchange of a probe, for rulec_kernel_expect."""
    there, back = path(mode, p["from"], p["to"]), path(mode, p["to"], p["from"])
    s, sp, d, dp = p["src"], p["sport"], p["dst"], p["dport"]
    kind = p["kind"]
    if kind == "pptp":
        return [(packet_text(there, "tcp", s, sp, d, 1723), packet_text(back, "tcp", d, 1723, s, sp)),
                (packet_text(there, "gre", s, 0, d, 0), packet_text(back, "gre", d, 0, s, 0))]
    if kind == "icmp":
        icmp = "icmpv6" if ":" in s else "icmp"
        return [(packet_text(there, icmp, s, 0, d, 0, "echo-request"),
                 packet_text(back, icmp, d, 0, s, 0, "echo-reply"))]
    return [(packet_text(there, kind, s, sp, d, dp), packet_text(back, kind, d, dp, s, sp))]


def outcome_of(kind, request, reply, local=False):
    """What the initiator of a probe sees, given the evaluator's verdicts. When the
    initiator is the host whose policy denies the request (`local`), the kernel
    fails a datagram's send with EPERM, for block and reject alike; a TCP SYN
    blocked is retried until the connect times out, one rejected is answered
    with a reset."""
    if local and request != "pass" and (kind != "tcp" or request == "block"):
        return "timeout" if kind == "tcp" else "local-denied"
    if request == "reject":
        return "refused"
    if request == "block":
        return "timeout"
    if kind == "tcp":
        return "connected" if reply == "pass" else "timeout"
    return "reply" if reply == "pass" else "request-only"


def expected(policy_path, mode, probes):
    lines, kinds = [], {}
    for p in probes:
        for n, (req, rep) in enumerate(exchanges(mode, p)):
            lines.append("%d\t%d\t%s\t%s" % (p["id"], n, req, rep))
    r = sh(os.environ["RULEC_EXPECT"], policy_path, stdin="\n".join(lines) + "\n")
    verdicts = {}
    for line in r.stdout.splitlines():
        head, detail = line.split("\t", 1)
        pid, n, req, rep = head.split(" ")
        verdicts[(int(pid), int(n))] = (req.split("=")[1], rep.split("=")[1], detail)
    out = {}
    for p in probes:
        req, rep, detail = verdicts[(p["id"], 0)]
        local = p["from"] == ("client" if mode == "host" else "router")
        if p["kind"] != "pptp":
            out[p["id"]] = (outcome_of(p["kind"], req, rep, local), detail)
            continue
        control = outcome_of("tcp", req, rep, local)
        gre = "none"
        if control == "connected":
            greq, grep, gdetail = verdicts[(p["id"], 1)]
            gre, detail = outcome_of("gre", greq, grep, local), detail + gdetail
        out[p["id"]] = ("control=%s,gre=%s" % (control, gre), detail)
    return out


# ------------------------------------------------------------------ running

def load(backend, text, mode):
    """Loads a compiled ruleset into the router (or the client for host policies)."""
    for ns in NS.values():
        sh("nft", "flush", "ruleset", ns=ns)
        sh(PY, PROBE, "flush", ns=ns)
    target = NS["client" if mode == "host" else "router"]
    for (_, tool), output in zip(BACKENDS[backend], text):
        sh(*tool, "/dev/stdin", ns=target, stdin=output)


def run_probes(probes, log_path):
    results = {}
    for node in ("client", "router", "server"):
        mine = [p for p in probes if p["from"] == node]
        if mine:
            r = sh(PY, PROBE, "run", log_path, ns=NS[node], stdin=json.dumps(mine), timeout=120)
            results.update({int(k): v for k, v in json.loads(r.stdout).items()})
    return results


def compile_policy(path, target):
    r = subprocess.run([os.environ["RULEC_BIN"], "--target", target, path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("rulec --target %s %s failed:\n%s" % (target, path, r.stderr))
    return r.stdout


def run_scenario(name, policy_path, mode, probes, log_path):
    """Runs one scenario on every backend; returns the number of disagreements."""
    want = expected(policy_path, mode, probes)
    failures = 0
    for backend, targets in BACKENDS.items():
        load(backend, [compile_policy(policy_path, target) for target, _ in targets], mode)
        got = run_probes(probes, log_path)
        bad = [p for p in probes if got.get(p["id"]) != want[p["id"]][0]]
        seen = {}
        for p in probes:
            seen[got.get(p["id"])] = seen.get(got.get(p["id"]), 0) + 1
        v6 = sum(1 for p in probes if ":" in p["src"])
        print("  %-28s %-8s %3d probes (%d IPv6), %d disagree  [%s]" % (
            name, backend, len(probes), v6, len(bad), ", ".join("%s %d" % kv for kv in sorted(seen.items(), key=str))))
        for p in bad:
            failures += 1
            print("    DISAGREE probe %s %s %s:%s -> %s:%s (%s -> %s)" % (
                p["id"], p["kind"], p["src"], p["sport"], p["dst"], p["dport"], p["from"], p["to"]))
            print("      kernel (%s): %s   evaluator: %s" % (backend, got.get(p["id"]), want[p["id"]][0]))
            print("      evaluator: %s" % want[p["id"]][1])
        if bad:
            print("    policy %s:\n%s" % (policy_path, indent(open(policy_path).read())))
    return failures


def indent(text):
    return "".join("      | " + line + "\n" for line in text.splitlines())


class Probes:
    """Allocates probe ids (unique in the whole run: they mark the payloads),
    source ports and address pairs (unique within a scenario)."""
    next_id = 0

    def __init__(self):
        self.n = 0
        self.list = []

    def add(self, kind, frm, to, dport=0, src=None, dst=None, v6=False):
        self.n += 1
        Probes.next_id += 1
        k = self.n
        clients, servers, routers = (CLIENTS6, SERVERS6, ADDR6) if v6 else (CLIENTS, SERVERS, ADDR)
        addr = {"client": clients[k % len(clients)], "server": servers[(k // len(clients) + k) % len(servers)]}
        router = {"client": routers["router-lan"], "server": routers["router-wan"]}
        s = src or (addr[frm] if frm != "router" else router[to])
        d = dst or (addr[to] if to != "router" else router[frm])
        self.list.append({"id": Probes.next_id, "kind": kind, "from": frm, "to": to, "src": s, "dst": d,
                          "sport": 20000 + k if kind in ("tcp", "udp", "pptp") else 0,
                          "dport": dport if kind in ("tcp", "udp") else (1723 if kind == "pptp" else 0)})


# ---------------------------------------------------------------- scenarios

PPTP_POLICIES = {
    # The VPN issue's PPTP scenarios, a router between the client (lan) and the server (wan).
    "pptp-router-works": "default block\npass in on lan >> state\n"
                         "pass out on wan to 203.0.113.10, service pptp >> state\n",
    "pptp-router-gre-blocked": "default block\npass in on lan >> state\n"
                               "pass out on wan protocol tcp, to 203.0.113.10 port 1723 >> state\n",
    "pptp-router-gre-by-rules": "default block\npass in on lan >> state\n"
                                "pass out on wan protocol tcp, to port 1723 >> state\npass on wan protocol gre\n",
    "pptp-article-router": "default block\n#PPTP Virtual Private Network\n"
                           "pass protocol tcp, to port 1723 >> state, done\npass protocol 47 >> done\n",
}


def fixed_scenarios(tmp):
    """(name, policy path, mode, probes) for the examples and the PPTP scenarios."""
    out = []
    pr = Probes()
    for port in (80, 443, 8080, 22, 25):
        pr.add("tcp", "client", "server", port)
    pr.add("udp", "client", "server", 53)
    pr.add("pptp", "client", "server", dst="203.0.113.10")
    pr.add("gre", "client", "server", dst="203.0.113.10")
    pr.add("esp", "client", "server", dst="203.0.113.10")
    pr.add("tcp", "client", "router", 22, src="192.0.2.10")
    pr.add("tcp", "client", "router", 22, src="192.0.2.12")
    pr.add("udp", "client", "router", 53)
    pr.add("tcp", "client", "router", 53)
    pr.add("tcp", "server", "client", 25, dst="192.0.2.25")
    pr.add("tcp", "server", "client", 113)
    pr.add("tcp", "server", "client", 80)
    pr.add("tcp", "server", "router", 113)
    for frm, to in (("client", "server"), ("server", "router"), ("router", "server"), ("client", "router")):
        pr.add("icmp", frm, to)
    for kind, frm, to, port in (("tcp", "client", "server", 443), ("udp", "client", "server", 53),
                                ("icmp", "client", "server", 0), ("tcp", "server", "client", 25),
                                ("esp", "client", "server", 0), ("gre", "server", "client", 0)):
        pr.add(kind, frm, to, port, v6=True)
    out.append(("examples/office.rules", os.path.join(ROOT, "examples/office.rules"), "router", pr.list))
    for mode in ("host", "router"):
        pr = Probes()
        pr.add("pptp", "client", "server")
        pr.add("tcp", "client", "server", 80)
        pr.add("tcp", "server", "client", 1723)
        pr.add("gre", "server", "client")
        pr.add("udp", "client", "server", 500)
        out.append(("examples/pptp.rules (%s)" % mode, os.path.join(ROOT, "examples/pptp.rules"), mode, pr.list))
    for name, text in PPTP_POLICIES.items():
        path = os.path.join(tmp, name + ".rules")
        with open(path, "w") as f:
            f.write(text)
        pr = Probes()
        pr.add("pptp", "client", "server", dst="203.0.113.10")
        pr.add("pptp", "client", "server")
        pr.add("gre", "client", "server", dst="203.0.113.10")
        pr.add("gre", "server", "client", src="203.0.113.10")
        pr.add("tcp", "server", "client", 1723)
        out.append((name, path, "router", pr.list))
    path = os.path.join(tmp, "pptp-host.rules")
    with open(path, "w") as f:
        f.write("default block\npass out service pptp >> state\n")
    pr = Probes()
    pr.add("pptp", "client", "server")
    pr.add("gre", "server", "client")
    pr.add("tcp", "client", "server", 80)
    out.append(("pptp-host", path, "host", pr.list))
    return out


ADDRESSES = {4: ["192.0.2.0/26", "192.0.2.64/26", "198.51.100.0/26", "198.51.100.64/26", "192.0.2.5",
                 "{ 192.0.2.0/26, 198.51.100.64/26 }", "198.51.100.1", "192.0.2.1",
                 "{ 192.0.2.0/28, 192.0.2.32/28, 192.0.2.64/28, 198.51.100.0/28, 198.51.100.48/28 }"],
             6: ["2001:db8:1::/122", "2001:db8:1::40/122", "2001:db8:2::/122", "2001:db8:2::40/122",
                 "2001:db8:1::5", "{ 2001:db8:1::/122, 2001:db8:2::40/122 }", "2001:db8:2::1"]}
MIXED = "{ 192.0.2.0/26, 2001:db8:2::/122 }"
PORTS = ["80", "{ 22, 443 }", "20-100", "53", "1723", "4500", "{ 25, 113, 8080 }", "500-1194",
         # more than iptables' multiport takes in one match (15 ports, a range counts 2)
         "{ 22, 25, 53, 113, 443, 500, 1194, 8080, 1-10, 30-40, 60-70, 90-99, 200-210, 300-310 }"]
TCP_PORTS = [22, 25, 53, 80, 113, 443, 1723, 8080]
UDP_PORTS = [53, 500, 1194, 4500]
PAIRS = [("client", "server"), ("server", "client"), ("client", "router"), ("server", "router"),
         ("router", "client"), ("router", "server")]


def random_policy(rng):
    lines = []
    for d in ("in", "out"):
        if rng.random() < 0.7:
            lines.append("default %s %s" % (rng.choice(["block", "block", "pass", "reject"]), d))
    for _ in range(rng.randint(2, 7)):
        action = rng.choice(["pass", "pass", "pass", "block", "reject"])
        head = " ".join(x for x in (action, rng.choice(["", "in", "out"]),
                                    rng.choice(["", "", "on lan", "on wan"])) if x)
        clauses = []
        proto = rng.choice([None, None, "tcp", "udp", "icmp", "icmpv6", "gre", "esp", "{ tcp, udp }"])
        family = {"icmp": 4, "icmpv6": 6}.get(proto, rng.choice([0, 0, 4, 6]))
        if proto:
            clauses.append("protocol " + proto)
        if family and rng.random() < 0.2:
            clauses.append("family " + ("inet" if family == 4 else "inet6"))
        if proto in ("tcp", "udp", "{ tcp, udp }") and rng.random() < 0.6:
            clauses.append("to port " + rng.choice(PORTS))
        pool = ADDRESSES[family] if family else ADDRESSES[rng.choice([4, 6])] + [MIXED]
        for side in ("from", "to"):
            if rng.random() < 0.3:
                clauses.append("%s %s" % (side, rng.choice(pool)))
        options = []
        if action == "pass" and rng.random() < 0.6:
            options.append("state")
        if rng.random() < 0.3:
            options.append("done")
        if rng.random() < 0.15:
            options.append("log")
        if rng.random() < 0.1:
            options.append('label "r%d"' % len(lines))
        lines.append(head + (" " + ", ".join(clauses) if clauses else "") +
                     (" >> " + ", ".join(options) if options else ""))
    return "\n".join(lines) + "\n"


def random_merge_policy(rng):
    """Many host rules of one shape among a few others (and broad rules that
    overlap them): the nft backend merges runs of 8 or more into sets, and
    may move a rule up past the rules no packet shares with it."""
    lines = ["default block"]
    hosts = CLIENTS[1:13] + SERVERS[1:13]
    for _ in range(rng.randint(40, 70)):
        action = rng.choice(["pass"] * 6 + ["block", "block", "reject", "reject"])
        proto = "tcp" if rng.random() < 0.8 else "udp"
        port = rng.choice(TCP_PORTS if proto == "tcp" else UDP_PORTS)
        if rng.random() < 0.85:
            where = "to %s port %d" % (rng.choice(hosts), port)
        else:
            where = "to port %d" % port
        options = ["state"] if action == "pass" and rng.random() < 0.8 else []
        if rng.random() < 0.15:
            options.append("done")
        lines.append("%s protocol %s, %s" % (action, proto, where) + (" >> " + ", ".join(options) if options else ""))
    return "\n".join(lines) + "\n"


HOST_PAIRS = [("client", "server"), ("server", "client"), ("client", "router"), ("router", "client")]


def random_probes(rng, count, mode):
    pr = Probes()
    for _ in range(count):
        kind = rng.choice(["tcp", "tcp", "udp", "udp", "icmp", "gre", "esp"])
        frm, to = rng.choice(PAIRS if mode == "router" else HOST_PAIRS)
        port = rng.choice(TCP_PORTS if kind == "tcp" else UDP_PORTS)
        pr.add(kind, frm, to, port, v6=rng.random() < 0.4)
    return pr.list


def main():
    if os.geteuid() != 0:
        print("kernel suite: FAIL: must run as root (network namespaces, nft, iptables)")
        return 2
    for tool in ("ip", "nft", "iptables-restore"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            print("kernel suite: FAIL: %s is not installed (scripts/install-deps)" % tool)
            return 2

    def interrupted(signum, _frame):
        cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    start = time.monotonic()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="rulec-kernel-") as tmp:
        log_path = os.path.join(tmp, "arrived.log")
        open(log_path, "w").close()
        try:
            setup(log_path)
            print("kernel suite: examples and PPTP scenarios, on nft and iptables")
            for name, path, mode, probes in fixed_scenarios(tmp):
                failures += run_scenario(name, path, mode, probes, log_path)
            seeds = int(os.environ.get("RULEC_KERNEL_SEEDS", "12"))
            first = int(os.environ.get("RULEC_KERNEL_FIRST_SEED", "1"))
            print("kernel suite: differential, %d random policies (seeds %d-%d)" % (seeds, first, first + seeds - 1))
            for seed in range(first, first + seeds):
                rng = random.Random(seed)
                path = os.path.join(tmp, "random-%d.rules" % seed)
                with open(path, "w") as f:
                    f.write(random_policy(rng))
                mode = "host" if seed % 3 == 0 else "router"  # every third policy on the client itself
                failures += run_scenario("seed %d (%s)" % (seed, mode), path, mode, random_probes(rng, 24, mode),
                                         log_path)
            merges = int(os.environ.get("RULEC_KERNEL_MERGE_SEEDS", "3"))
            print("kernel suite: differential, %d policies whose nft rules merge into sets (seeds 1001-%d)"
                  % (merges, 1000 + merges))
            for seed in range(1001, 1001 + merges):
                rng = random.Random(seed)
                path = os.path.join(tmp, "merge-%d.rules" % seed)
                with open(path, "w") as f:
                    f.write(random_merge_policy(rng))
                failures += run_scenario("merge seed %d" % seed, path, "router", random_probes(rng, 40, "router"),
                                         log_path)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print("kernel suite: FAIL: %s" % e)
            failures += 1
        finally:
            cleanup()
    print("kernel suite: %d disagreements (%.0f s)" % (failures, time.monotonic() - start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
