#!/usr/bin/python3
"""The cyberWatch lab's model, read from scripts/lab.d/topology.json.

scripts/lab (bash) does the building; this file does the thinking, so that the build and the
ground truth come from one description and cannot drift apart:

  plan             namespaces, veths, addresses and static routes, one tab-separated line each
  bird-configs     a BIRD 2 config per border router and one for the route collector
  truth            the ground truth as JSON (hops, AS paths, adjacencies, prefixes), for the
                   default vantage at the top level and for every vantage under "vantages"
  prefixes         prefix<TAB>origin ASN, as pyasn reads it
  ptr-records      address<TAB>host name<TAB>reverse name of every router and host interface (the lab's
                   reverse DNS)
  converged        waits until every BIRD holds exactly the routes the model predicts
  check            traces from each vantage (scamper, traceroute, mtr) compared with the truth, and
                   TCP between the vantages
  vantages         name<TAB>namespace<TAB>ASN<TAB>addresses of each vantage with a silo, the default one first
  agent-vantages   the same for the vantages behind NAT, where an agent runs instead of a silo
  link             resolves "A B" to the interfaces of a link, for `scripts/lab link`

Routing inside an AS is static (shortest paths by hop count; equal-cost paths become multipath
routes, except default routes, which take the first one, so that the way back is a single path).
Routers answer a trace from the interface the probe came in on. Between ASes it is BGP with Gao-Rexford preferences: customer routes over peer
routes over provider routes, then the shortest AS path, then the lowest router ID, and routes
learned from a peer or a provider are only passed on to customers.
"""

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import time

ROLES = {"host", "router", "border", "collector"}
MAX_TTL = 30


class TopologyError(Exception):
    pass


def fail(message):
    print(f"lab: {message}", file=sys.stderr)
    sys.exit(1)


class Attachment:
    """One end of a segment: an interface of a node with its addresses."""

    def __init__(self, node, ifname, addresses, segment):
        self.node = node
        self.ifname = ifname
        self.addresses = addresses  # list of ipaddress.IPv4Interface / IPv6Interface
        self.segment = segment
        self.up = True  # an IXP port can be down while the LAN stays up

    def address(self, family):
        for a in self.addresses:
            if a.version == family:
                return a.ip
        return None


class Segment:
    """A point-to-point link or an IXP LAN."""

    def __init__(self, kind, name):
        self.kind = kind  # "link" or "ixp"
        self.name = name
        self.attachments = []
        self.networks = {}
        self.bgp = None
        self.nat = None
        self.up = True

    def network(self, family):
        return self.networks.get(family)

    def other(self, node):
        return [a for a in self.attachments if a.node != node]


class Node:
    def __init__(self, name, asn, role, silent):
        self.name = name
        self.asn = asn
        self.role = role
        self.silent = silent
        self.attachments = []
        self.loopback = []

    def up_attachments(self):
        return [a for a in self.attachments if a.up and a.segment.up]

    def local_addresses(self):
        out = list(self.loopback)
        for a in self.up_attachments():
            out.extend(x.ip for x in a.addresses)
        return out


class Session:
    """A BGP session as seen from one side."""

    def __init__(self, local, remote, segment, relation, local_pref):
        self.local = local  # node name
        self.remote = remote
        self.segment = segment
        self.relation = relation  # what the remote is to us: customer, peer, provider
        self.local_pref = local_pref

    def remote_address(self, family):
        for a in self.segment.attachments:
            if a.node == self.remote:
                return a.address(family)
        return None

    def local_address(self, family):
        for a in self.segment.attachments:
            if a.node == self.local:
                return a.address(family)
        return None


class BgpRoute:
    def __init__(self, prefix, path, local_pref, session):
        self.prefix = prefix
        self.path = path  # list of ASNs after the holder's own, origin last; [] for own prefixes
        self.local_pref = local_pref
        self.session = session  # None for an originated prefix

    @property
    def learned_from(self):
        return self.session.relation if self.session else "self"


class Lab:
    def __init__(self, topo, down_links=()):
        self.topo = topo
        self.prefix = topo["namespace_prefix"]
        # The default vantage first; it is the one the top level of the truth describes.
        self.vantages = [topo["vantage"]] + [v for v in topo.get("vantages", []) if v != topo["vantage"]]
        # Vantages where an agent runs instead of a silo (a home line behind NAT): they have a truth of their
        # own, but no silo is started there and no other vantage can reach them.
        self.agent_vantages = [v for v in topo.get("agent_vantages", []) if v not in self.vantages]
        self.silo_vantages = list(self.vantages)
        self.vantages += self.agent_vantages
        self.nodes = {}
        self.segments = []
        self.ases = {}
        self.ixps = []
        self.down_links = {frozenset(p) for p in down_links}
        self.warnings = []
        self._load()
        self._validate()
        self.static_routes = self._static_routes()
        self.sessions = self._sessions()
        self.rib = self._bgp()

    # ------------------------------------------------------------ loading

    def _load(self):
        t = self.topo
        self.lp_default = t["local_pref"]
        for a in t["ases"]:
            asn = int(a["asn"])
            if asn in self.ases:
                raise TopologyError(f"AS{asn} defined twice")
            self.ases[asn] = {
                "asn": asn,
                "name": a["name"],
                "border": a["border"],
                "loopback": [ipaddress.ip_address(x) for x in a["loopback"]],
                "prefixes": [ipaddress.ip_network(p) for p in a["prefixes"]],
            }
        for n in t["nodes"]:
            if n["name"] in self.nodes:
                raise TopologyError(f"node {n['name']} defined twice")
            if n["role"] not in ROLES:
                raise TopologyError(f"node {n['name']}: unknown role {n['role']}")
            self.nodes[n["name"]] = Node(n["name"], int(n["asn"]), n["role"], bool(n.get("silent", False)))
        for asn, a in self.ases.items():
            border = self.nodes.get(a["border"])
            if border is None or border.role != "border" or border.asn != asn:
                raise TopologyError(f"AS{asn}: border {a['border']} is not a border router of AS{asn}")
            border.loopback = a["loopback"]
        for i, link in enumerate(t["links"]):
            ends = link["ends"]
            if len(ends) != 2:
                raise TopologyError(f"link {i}: needs exactly two ends")
            seg = Segment("link", f"{ends[0][0]}--{ends[1][0]}")
            for me, other in ((ends[0], ends[1]), (ends[1], ends[0])):
                self._attach(seg, me[0], other[0], me[1:])
            seg.bgp = link.get("bgp")
            # "nat": the router that masquerades this link's private network behind its other links.
            seg.nat = link.get("nat")
            if frozenset((ends[0][0], ends[1][0])) in self.down_links:
                seg.up = False
            self.segments.append(seg)
        for x in t.get("ixps", []):
            seg = Segment("ixp", x["name"])
            seg.ixp = x
            if x["node"] in self.nodes:
                raise TopologyError(f"IXP {x['name']}: node name {x['node']} is taken")
            for m in x["members"]:
                att = self._attach(seg, m[0], x["node"], m[1:])
                att.up = frozenset((m[0], x["node"])) not in self.down_links
            self.ixps.append(seg)
            self.segments.append(seg)
        for seg in self.segments:
            for att in seg.attachments:
                for addr in att.addresses:
                    net = seg.networks.setdefault(addr.version, addr.network)
                    if addr.network != net:
                        raise TopologyError(f"{seg.name}: {addr} is not in {net}")

    def _attach(self, seg, node_name, peer_name, addresses):
        node = self.nodes.get(node_name)
        if node is None:
            raise TopologyError(f"{seg.name}: unknown node {node_name}")
        ifname = peer_name
        if len(ifname) > 15:
            raise TopologyError(f"interface name {ifname} (on {node_name}) is longer than 15 characters")
        if any(a.ifname == ifname for a in node.attachments):
            raise TopologyError(f"{node_name} has two links named {ifname}")
        att = Attachment(node_name, ifname, [ipaddress.ip_interface(x) for x in addresses], seg)
        if not att.addresses:
            raise TopologyError(f"{seg.name}: {node_name} has no address")
        node.attachments.append(att)
        seg.attachments.append(att)
        return att

    def _validate(self):
        seen = {}
        for node in self.nodes.values():
            for addr in node.loopback + [a.ip for att in node.attachments for a in att.addresses]:
                if addr in seen:
                    raise TopologyError(f"address {addr} used by {seen[addr]} and {node.name}")
                seen[addr] = node.name
                if any(addr in [x.ip for x in a.addresses] for seg in self.segments if seg.nat
                       for a in seg.attachments):
                    continue
                if addr.is_private or addr.is_reserved or addr.is_multicast or addr.is_loopback \
                        or addr.is_link_local or addr in ipaddress.ip_network("100.64.0.0/10"):
                    raise TopologyError(f"{node.name}: {addr} is special-purpose; the node would refuse to probe it")
        for name in self.vantages:
            vantage = self.nodes.get(name)
            if vantage is None or vantage.role != "host":
                raise TopologyError(f"the vantage {name} must be a host")
        for d in self.topo["destinations"]:
            if d not in self.nodes or self.nodes[d].role != "host":
                raise TopologyError(f"destination {d} is not a host")
        for seg in self.segments:
            if seg.kind == "link" and seg.bgp is not None:
                a, b = (self.nodes[x.node] for x in seg.attachments)
                if a.role != "border" or b.role != "border" or a.asn == b.asn:
                    raise TopologyError(f"{seg.name}: a BGP link joins border routers of two ASes")
                if 4 not in seg.networks or 6 not in seg.networks:
                    raise TopologyError(f"{seg.name}: BGP links carry IPv4 and IPv6, so they need both")
            elif seg.kind == "link":
                roles = {self.nodes[x.node].role for x in seg.attachments}
                asns = {self.nodes[x.node].asn for x in seg.attachments}
                if len(asns) != 1 and "collector" not in roles:
                    raise TopologyError(f"{seg.name}: joins two ASes without BGP")
        for node in self.nodes.values():
            if node.role == "host" and len(node.attachments) != 1:
                raise TopologyError(f"host {node.name} needs exactly one link")
        for seg in self.segments:
            if seg.nat and seg.nat not in [a.node for a in seg.attachments]:
                raise TopologyError(f"{seg.name}: the NAT router {seg.nat} is not on this link")
        for name in self.vantages:
            vantage = self.nodes[name]
            if vantage.attachments[0].segment.nat:
                continue
            if self.owner_asn(vantage.attachments[0].address(4)) != vantage.asn:
                raise TopologyError(f"the vantage {name}'s IPv4 address is not in its AS's prefixes")

    # ------------------------------------------------------------ prefixes and ownership

    def ptr_records(self):
        """(address, name) for every address of every router, border router and host: the reverse DNS the
        lab's resolvers serve. A name is the interface's peer, the node and its AS, as operators name
        router interfaces: van-br.tra-br.as1200.lab.example is tra-br's interface towards van-br. IXP
        route servers and the route collector get no name."""
        out = []
        for n in self.nodes.values():
            if n.role not in ("router", "border", "host"):
                continue
            for ip in n.loopback:
                out.append((str(ip), f"lo.{n.name}.as{n.asn}.lab.example"))
            for a in n.attachments:
                for x in a.addresses:
                    out.append((str(x.ip), f"{a.ifname}.{n.name}.as{n.asn}.lab.example"))
        return sorted(set(out), key=lambda r: (ipaddress.ip_address(r[0]).version, ipaddress.ip_address(r[0])))

    def announced(self):
        """(prefix, asn) for every announced prefix."""
        return [(p, asn) for asn, a in sorted(self.ases.items()) for p in a["prefixes"]]

    def owner_asn(self, address):
        """Origin ASN of the longest announced prefix covering address, as a prefix table would say."""
        if address is None:
            return None
        best = None
        for p, asn in self.announced():
            if address.version == p.version and address in p:
                if best is None or p.prefixlen > best[0].prefixlen:
                    best = (p, asn)
        return best[1] if best else None

    def ixp_of(self, address):
        for seg in self.ixps:
            for p in seg.ixp["prefixes"]:
                if address in ipaddress.ip_network(p):
                    return seg.ixp["name"]
        return None

    def node_of_address(self, address):
        for node in self.nodes.values():
            if address in node.local_addresses():
                return node
        return None

    # ------------------------------------------------------------ static routing inside each AS

    def _internal_graph(self, asn, family):
        """Routers of an AS and the up links between them that carry this family."""
        adj = {}
        for seg in self.segments:
            if seg.kind != "link" or not seg.up or family not in seg.networks:
                continue
            nodes = [self.nodes[a.node] for a in seg.attachments]
            if any(n.asn != asn or n.role not in ("router", "border") for n in nodes):
                continue
            a, b = seg.attachments
            adj.setdefault(a.node, []).append((b.node, a, b.address(family)))
            adj.setdefault(b.node, []).append((a.node, b, a.address(family)))
        return adj

    @staticmethod
    def _distances(adj, targets):
        dist = {t: 0 for t in targets}
        queue = list(targets)
        while queue:
            cur = queue.pop(0)
            for nxt, _, _ in adj.get(cur, []):
                if nxt not in dist:
                    dist[nxt] = dist[cur] + 1
                    queue.append(nxt)
        return dist

    def _static_routes(self):
        """node -> list of (network, [(gateway, own attachment)]), all families."""
        routes = {n: [] for n in self.nodes}
        for asn in {n.asn for n in self.nodes.values()}:
            members = [n for n in self.nodes.values() if n.asn == asn]
            for family in (4, 6):
                adj = self._internal_graph(asn, family)
                internal = []
                for seg in self.segments:
                    if seg.kind == "link" and seg.up and family in seg.networks and not seg.nat \
                            and all(self.nodes[a.node].asn == asn for a in seg.attachments) \
                            and all(self.nodes[a.node].role != "collector" for a in seg.attachments):
                        internal.append(seg)
                routers = [n for n in members if n.role in ("router", "border")]
                for seg in internal:
                    targets = [a.node for a in seg.attachments if self.nodes[a.node].role in ("router", "border")]
                    dist = self._distances(adj, targets)
                    for r in routers:
                        if r.name in targets or r.name not in dist:
                            continue
                        hops = [(gw, att) for nxt, att, gw in adj[r.name] if dist.get(nxt) == dist[r.name] - 1]
                        routes[r.name].append((seg.network(family), hops))
                default = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
                border = self.ases[asn]["border"] if asn in self.ases else None
                if border:
                    dist = self._distances(adj, [border])
                    for r in routers:
                        if r.role != "router" or r.name not in dist:
                            continue
                        hops = [(gw, att) for nxt, att, gw in adj[r.name] if dist.get(nxt) == dist[r.name] - 1]
                        routes[r.name].append((default, hops[:1]))
                for n in members:
                    if n.role not in ("host", "collector"):
                        continue
                    for att in n.up_attachments():
                        mine = att.address(family)
                        if mine is None:
                            continue
                        for other in att.segment.other(n.name):
                            if self.nodes[other.node].role in ("router", "border") and other.address(family):
                                hop = [(other.address(family), att)]
                                if n.name in self.vantages:
                                    # No default route: one route per lab prefix, so that any other
                                    # address fails right here with "Network is unreachable".
                                    for p, _ in self.announced():
                                        if p.version == family:
                                            routes[n.name].append((p, hop))
                                else:
                                    routes[n.name].append((default, hop))
                                break
                        break
        return routes

    # ------------------------------------------------------------ BGP

    def border_of(self, asn):
        return self.ases[asn]["border"]

    def _sessions(self):
        """border name -> list of Session (up segments only)."""
        out = {a["border"]: [] for a in self.ases.values()}
        pairs = []
        for seg in self.segments:
            if seg.kind == "link" and seg.bgp is not None:
                a, b = (x.node for x in seg.attachments)
                if "peer" in seg.bgp:
                    rel = {a: "peer", b: "peer"}
                else:
                    cust = seg.bgp["customer"]
                    if cust not in (a, b):
                        raise TopologyError(f"{seg.name}: customer {cust} is not on the link")
                    prov = b if cust == a else a
                    rel = {cust: "customer", prov: "provider"}
                pairs.append((seg, a, b, rel, seg.bgp.get("local_pref", {})))
            elif seg.kind == "ixp":
                for a, b in seg.ixp["sessions"]:
                    if a not in [x.node for x in seg.attachments] or b not in [x.node for x in seg.attachments]:
                        raise TopologyError(f"IXP {seg.name}: session {a}-{b} between non-members")
                    pairs.append((seg, a, b, {a: "peer", b: "peer"}, {}))
        for seg, a, b, rel, lp in pairs:
            if seg.kind == "ixp":
                up = seg.up and all(x.segment.up for x in seg.attachments)
                port_down = any(frozenset((x, seg.ixp["node"])) in self.down_links for x in (a, b))
                if not up or port_down:
                    continue
            elif not seg.up:
                continue
            for local, remote in ((a, b), (b, a)):
                relation = rel[remote]
                pref = lp.get(local, self.lp_default[relation])
                out[local].append(Session(local, remote, seg, relation, pref))
        return out

    def router_id(self, border):
        return self.nodes[border].loopback[0]

    def _bgp(self):
        """AS -> {prefix: best BgpRoute}, by iterating best-path selection to a fixed point."""
        rib = {}
        for asn, a in self.ases.items():
            rib[asn] = {p: BgpRoute(p, [], None, None) for p in a["prefixes"]}
        all_prefixes = [p for p, _ in self.announced()]
        for _ in range(100):
            changed = False
            new = {}
            for asn in sorted(self.ases):
                border = self.border_of(asn)
                table = {p: r for p, r in rib[asn].items() if r.session is None}
                for p in all_prefixes:
                    if p in table:
                        continue
                    candidates = []
                    for s in self.sessions[border]:
                        remote_asn = self.nodes[s.remote].asn
                        r = rib[remote_asn].get(p)
                        if r is None or asn in r.path or remote_asn == asn:
                            continue
                        # The remote passes on peer and provider routes only to its customers,
                        # that is when it is our provider.
                        if r.learned_from in ("peer", "provider") and s.relation != "provider":
                            continue
                        candidates.append(BgpRoute(p, [remote_asn] + r.path, s.local_pref, s))
                    if candidates:
                        candidates.sort(key=lambda c: (-c.local_pref, len(c.path), int(self.router_id(c.session.remote))))
                        table[p] = candidates[0]
                new[asn] = table
            for asn in rib:
                old = {p: (r.path, r.session.remote if r.session else None) for p, r in rib[asn].items()}
                now = {p: (r.path, r.session.remote if r.session else None) for p, r in new[asn].items()}
                if old != now:
                    changed = True
            rib = new
            if not changed:
                break
        else:
            raise TopologyError("BGP did not converge in the model (a policy loop?)")
        # Ties broken by router ID are legal but make the truth depend on a detail; say so.
        for asn in sorted(self.ases):
            for p, r in rib[asn].items():
                if r.session is None:
                    continue
                rivals = [s for s in self.sessions[self.border_of(asn)] if s is not r.session]
                for s in rivals:
                    remote_asn = self.nodes[s.remote].asn
                    rr = rib[remote_asn].get(p)
                    if rr is None or asn in rr.path:
                        continue
                    if rr.learned_from in ("peer", "provider") and s.relation != "provider":
                        continue
                    if s.local_pref == r.local_pref and len(rr.path) + 1 == len(r.path):
                        self.warnings.append(f"AS{asn} picks {p} via AS{r.path[0]} over AS{remote_asn} only by router ID")
        return rib

    # ------------------------------------------------------------ forwarding

    def routes_of(self, node):
        """The node's forwarding table: (network, [(gateway or None, attachment)], kind)."""
        table = []
        n = self.nodes[node]
        for att in n.up_attachments():
            for a in att.addresses:
                table.append((a.network, [(None, att)], "connected"))
        for net, hops in self.static_routes[node]:
            table.append((net, hops, "static"))
        if n.role == "border":
            for p, r in self.rib[n.asn].items():
                if r.session is None:
                    continue
                gw = r.session.remote_address(p.version)
                att = next(x for x in n.attachments if x.segment is r.session.segment)
                table.append((p, [(gw, att)], "bgp"))
        return table

    def lookup(self, node, dst):
        """Next hops of node toward dst: list of (next node name, own attachment); [] if no route."""
        best = None
        for net, hops, kind in self.routes_of(node):
            if net.version == dst.version and dst in net:
                if best is None or net.prefixlen > best[0].prefixlen:
                    best = (net, hops, kind)
        if best is None:
            return []
        out = []
        for gw, att in best[1]:
            target = dst if gw is None else gw
            owner = next((x.node for x in att.segment.attachments if x.node != node and x.up
                          and any(a.ip == target for a in x.addresses)), None)
            if owner is not None:
                out.append((owner, att))
        return out

    def branches(self, src, dst):
        """Every forwarding path from src to dst, as lists of (node, inbound attachment).

        Multipath routes fork the walk, so an ECMP diamond gives one branch per way through it.
        """
        target = self.node_of_address(dst)
        done = []
        work = [[(src, None)]]
        while work:
            path = work.pop(0)
            if len(path) > MAX_TTL:
                raise TopologyError(f"forwarding loop from {src} to {dst}: {[n for n, _ in path]}")
            node = path[-1][0]
            nxt = self.lookup(node, dst)
            if not nxt:
                done.append((path, False))
                continue
            for owner, att in nxt:
                inbound = next(x for x in att.segment.attachments if x.node == owner)
                longer = path + [(owner, inbound)]
                if target is not None and owner == target.name:
                    done.append((longer, True))
                else:
                    work.append(longer)
            if len(done) + len(work) > 256:
                raise TopologyError(f"too many paths from {src} to {dst}")
        return done

    def hop_entry(self, node_name, inbound, dst):
        """What a trace sees at this hop. Routers answer from the interface the probe came in on
        (net.ipv4.icmp_errors_use_inbound_ifaddr=1; Linux does that for IPv6 anyway), as most
        real routers do."""
        node = self.nodes[node_name]
        entry = {"router": node_name, "router_asn": node.asn}
        if dst in node.local_addresses():
            entry.update(address=str(dst), address_asn=self.owner_asn(dst), destination=True)
            return entry
        if node.silent:
            entry.update(address=None, silent=True)
            return entry
        a = inbound.address(dst.version)
        if a is None:
            entry.update(address=None, silent=True, why=f"no IPv{dst.version} address on {inbound.ifname}")
            return entry
        entry["address"] = str(a)
        entry["address_asn"] = self.owner_asn(a)
        ixp = self.ixp_of(a)
        if ixp:
            entry["ixp"] = ixp
        elif a.is_private:
            # The inside of a NAT: no AS announces it, which is not a third party's address.
            entry["private"] = True
        elif entry["address_asn"] != node.asn:
            entry["third_party"] = True
        return entry

    def trace_truth(self, dst, vantage=None):
        vantage = vantage or self.topo["vantage"]
        if self.nodes[vantage].attachments[0].address(dst.version) is None:
            raise TopologyError(f"the vantage {vantage} has no IPv{dst.version} address")
        found = self.branches(vantage, dst)
        per_ttl = []
        for path, _ in found:
            for ttl, (node, inbound) in enumerate(path[1:], start=1):
                if len(per_ttl) < ttl:
                    per_ttl.append([])
                e = self.hop_entry(node, inbound, dst)
                if e not in per_ttl[ttl - 1]:
                    per_ttl[ttl - 1].append(e)
        hops = []
        for ttl, entries in enumerate(per_ttl, start=1):
            hops.append({"ttl": ttl, **entries[0]} if len(entries) == 1 else {"ttl": ttl, "ecmp": entries})
        branch_addresses = [[self.hop_entry(n, i, dst)["address"] for n, i in path[1:]] for path, _ in found]
        return hops, branch_addresses, all(ok for _, ok in found)

    @staticmethod
    def compact(hops):
        out = []
        for h in hops:
            if "ecmp" in h:
                out.append([e["address"] for e in h["ecmp"]])
            else:
                out.append(h["address"])
        return out

    def as_path_to(self, asn, dst):
        best = None
        for p, r in self.rib[asn].items():
            if p.version == dst.version and dst in p and (best is None or p.prefixlen > best.prefix.prefixlen):
                best = r
        if best is None:
            return None, None
        return [asn] + best.path, best.prefix

    # ------------------------------------------------------------ outputs

    def vantage_info(self, name):
        vantage = self.nodes[name]
        return {"node": vantage.name, "namespace": self.prefix + vantage.name, "asn": vantage.asn,
                "addresses": [str(a.ip) for a in vantage.attachments[0].addresses]}

    def destinations_truth(self, vantage_name):
        """What traces from one vantage to every destination must show."""
        vantage = self.nodes[vantage_name]
        dests = []
        for name in self.topo["destinations"]:
            node = self.nodes[name]
            addrs = [a.ip for a in node.attachments[0].addresses]
            paths = []
            for a in addrs:
                if vantage.attachments[0].address(a.version) is None:
                    continue
                hops, branches, reached = self.trace_truth(a, vantage_name)
                as_path, prefix = self.as_path_to(vantage.asn, a)
                paths.append({
                    "address": str(a),
                    "family": f"ipv{a.version}",
                    "prefix": str(prefix) if prefix else None,
                    "origin_asn": self.owner_asn(a),
                    "reachable": reached,
                    "as_path": as_path,
                    "hop_addresses": self.compact(hops),
                    "branches": branches,
                    "hops": hops,
                })
            dests.append({"name": name, "asn": node.asn, "as_name": self.ases[node.asn]["name"],
                          "addresses": [str(a) for a in addrs], "traces": paths})
        return dests

    def vantage_paths(self, vantage_name):
        """AS path from one vantage to each other vantage's addresses (the way silo-to-silo traffic goes)."""
        vantage = self.nodes[vantage_name]
        out = {}
        for other in self.silo_vantages:
            if other == vantage_name:
                continue
            for a in self.nodes[other].attachments[0].addresses:
                as_path, _ = self.as_path_to(vantage.asn, a.ip)
                out[str(a.ip)] = {"vantage": other, "as_path": as_path}
        return out

    def truth(self):
        vantage = self.nodes[self.topo["vantage"]]
        dests = self.destinations_truth(vantage.name)
        adjacencies = []
        seen = set()
        for border, sessions in self.sessions.items():
            for s in sessions:
                a, b = self.nodes[s.local].asn, self.nodes[s.remote].asn
                key = (min(a, b), max(a, b), s.segment.name)
                if key in seen:
                    continue
                seen.add(key)
                if s.relation == "peer":
                    rel = "peer"
                    first, second = a, b
                elif s.relation == "customer":
                    rel, first, second = "provider-customer", a, b
                else:
                    rel, first, second = "provider-customer", b, a
                adj = {"a": first, "b": second, "relation": rel}
                if s.segment.kind == "ixp":
                    adj["ixp"] = s.segment.name
                else:
                    owner = self.owner_asn(s.segment.network(4).network_address)
                    adj["link"] = {"subnets": [str(n) for n in s.segment.networks.values()], "numbered_from_asn": owner}
                adjacencies.append(adj)
        adjacencies.sort(key=lambda x: (x["a"], x["b"], x.get("ixp", "")))
        down = []
        for pair in sorted(tuple(sorted(p)) for p in self.down_links):
            down.append(list(pair))
        collector = self.topo["collector"]
        cnode = self.nodes[collector["node"]]
        return {
            "lab": self.prefix.rstrip("-"),
            "vantage": self.vantage_info(vantage.name),
            "destinations": dests,
            "ases": [{"asn": asn, "name": a["name"], "border": a["border"],
                      "router_id": str(a["loopback"][0]),
                      "prefixes": [str(p) for p in a["prefixes"]]} for asn, a in sorted(self.ases.items())],
            "prefixes": {str(asn): [str(p) for p in a["prefixes"]] for asn, a in sorted(self.ases.items())},
            "adjacencies": adjacencies,
            "ixps": [{"name": s.ixp["name"], "prefixes": s.ixp["prefixes"], "announced": s.ixp.get("announced", False),
                      "members": [{"asn": self.nodes[a.node].asn, "router": a.node,
                                   "addresses": [str(x.ip) for x in a.addresses]} for a in s.attachments]}
                     for s in self.ixps],
            "collector": {"node": cnode.name, "asn": collector["asn"], "name": collector["name"],
                          "addresses": [str(x.ip) for x in cnode.attachments[0].addresses],
                          "peers": [{"asn": asn, "address": str(a["loopback"][0])} for asn, a in sorted(self.ases.items())]},
            "down_links": down,
            "warnings": self.warnings,
            # Every vantage, the default one too, in the shape of the top level's "vantage" and "destinations".
            "vantages": {name: {"vantage": {**self.vantage_info(name), "default": name == vantage.name},
                                "destinations": dests if name == vantage.name else self.destinations_truth(name),
                                "vantage_paths": self.vantage_paths(name)}
                         for name in self.vantages},
        }

    def plan(self):
        """Build steps for scripts/lab, one tab-separated record per line."""
        p = self.prefix
        lines = []
        for n in self.nodes.values():
            lines.append(("ns", p + n.name, n.role))
        for seg in self.ixps:
            lines.append(("ns", p + seg.ixp["node"], "ixp"))
            lines.append(("bridge", p + seg.ixp["node"], "lan"))
        for seg in self.segments:
            if seg.kind == "link":
                a, b = seg.attachments
                lines.append(("veth", p + a.node, a.ifname, p + b.node, b.ifname))
            else:
                for a in seg.attachments:
                    lines.append(("veth", p + a.node, a.ifname, p + seg.ixp["node"], a.node))
                    lines.append(("port", p + seg.ixp["node"], "lan", a.node))
        for n in self.nodes.values():
            for att in n.attachments:
                for addr in att.addresses:
                    lines.append(("addr", p + n.name, att.ifname, str(addr)))
            for lo in n.loopback:
                lines.append(("addr", p + n.name, "lo", f"{lo}/{lo.max_prefixlen}"))
        for n in self.nodes.values():
            for net, hops in self.static_routes[n.name]:
                if hops:
                    lines.append(("route", p + n.name, str(net), ",".join(f"{gw}@{att.ifname}" for gw, att in hops)))
        for n in self.nodes.values():
            if n.silent:
                lines.append(("silent", p + n.name))
        for seg in self.segments:
            if seg.nat:
                inside = next(a for a in seg.attachments if a.node == seg.nat)
                lines.append(("nat", p + seg.nat, inside.ifname))
        for asn in sorted(self.ases):
            lines.append(("bird", p + self.border_of(asn), self.border_of(asn)))
        lines.append(("bird", p + self.topo["collector"]["node"], self.topo["collector"]["node"]))
        return lines

    def link_ends(self, a, b):
        for seg in self.segments:
            names = [x.node for x in seg.attachments]
            if seg.kind == "link" and set(names) == {a, b}:
                x, y = seg.attachments
                return [(self.prefix + x.node, x.ifname), (self.prefix + y.node, y.ifname)]
            if seg.kind == "ixp" and seg.ixp["node"] in (a, b):
                member = b if a == seg.ixp["node"] else a
                if member in names:
                    att = next(x for x in seg.attachments if x.node == member)
                    return [(self.prefix + member, att.ifname), (self.prefix + seg.ixp["node"], member)]
        raise TopologyError(f"no link between {a} and {b}")

    # ------------------------------------------------------------ BIRD

    def bird_config(self, border, run_dir, mrt_dir):
        n = self.nodes[border]
        asn = n.asn
        a = self.ases[asn]
        lo4, lo6 = a["loopback"]
        own4 = [p for p in a["prefixes"] if p.version == 4]
        own6 = [p for p in a["prefixes"] if p.version == 6]
        out = [
            f"# BIRD 2 config of {border}, border router of AS{asn} {a['name']}.",
            "# Generated by scripts/lab from scripts/lab.d/topology.json; edit that file, not this one.",
            f'log "{run_dir}/{border}.log" all;',
            f"router id {lo4};",
            f"define MY_AS = {asn};",
            "",
            "protocol device { scan time 5; }",
            "",
            "# Only BGP routes go to the kernel; routes inside the AS are static and set by scripts/lab.",
            "protocol kernel kernel4 { ipv4 { import none; export where source = RTS_BGP; }; }",
            "protocol kernel kernel6 { ipv6 { import none; export where source = RTS_BGP; }; }",
            "",
            "# Our prefixes, originated here (not sent to the kernel: the more specific statics cover them).",
            "protocol static originate4 {",
            "  ipv4;",
            *[f"  route {p} unreachable;" for p in own4],
            "}",
            "protocol static originate6 {",
            "  ipv6;",
            *[f"  route {p} unreachable;" for p in own6],
            "}",
            "",
            "# Routes are tagged with where they came from (MY_AS,1) customer, (MY_AS,2) peer,",
            "# (MY_AS,3) provider, so the export to peers and providers can be valley-free.",
            "filter to_customer {",
            "  if source != RTS_BGP && source != RTS_STATIC then reject;",
            "  bgp_community.delete([(MY_AS, *)]);",
            "  accept;",
            "}",
            "filter to_peer_or_provider {",
            "  if source = RTS_STATIC then accept;",
            "  if source != RTS_BGP then reject;",
            "  if (MY_AS, 1) ~ bgp_community then {",
            "    bgp_community.delete([(MY_AS, *)]);",
            "    accept;",
            "  }",
            "  reject;",
            "}",
            "filter to_collector {",
            "  if source != RTS_BGP && source != RTS_STATIC then reject;",
            "  bgp_community.delete([(MY_AS, *)]);",
            "  accept;",
            "}",
            "",
            "template bgp lab_ebgp {",
            f"  local as {asn};",
            "  connect delay time 1;",
            "  connect retry time 3;",
            "  error wait time 1, 10;",
            # Short timers: a peer that vanishes behind the IXP switch is noticed within 6s.
            "  hold time 6;",
            "  keepalive time 2;",
            "}",
            "",
        ]
        tag = {"customer": 1, "peer": 2, "provider": 3}
        # Sessions come from the topology, not from self.sessions, so a link that is down keeps its
        # session configured (BIRD brings it back when the link returns).
        configured = Lab(self.topo, ())
        for s in configured.sessions[border]:
            remote = self.nodes[s.remote]
            ra = self.ases[remote.asn]
            name = s.remote.replace("-", "_")
            export = "to_customer" if s.relation == "customer" else "to_peer_or_provider"
            where = f"across {s.segment.name}" if s.segment.kind == "ixp" else "direct link"
            imp = f"import filter {{ bgp_local_pref = {s.local_pref}; bgp_community.add((MY_AS, {tag[s.relation]})); accept; }};"
            out += [
                f"protocol bgp {name} from lab_ebgp {{",
                f'  description "AS{remote.asn} {ra["name"]}, our {s.relation} ({where})";',
                f"  local {s.local_address(4)} as {asn};",
                f"  neighbor {s.remote_address(4)} as {remote.asn};",
                f"  ipv4 {{ {imp} export filter {export}; }};",
                f"  ipv6 {{ {imp} export filter {export}; next hop address {s.local_address(6)}; }};",
                "}",
            ]
        c = self.topo["collector"]
        cn = self.nodes[c["node"]]
        out += [
            "",
            "# The route collector sees everything we use, like a RIS or RouteViews peer; we take nothing from it.",
            "protocol bgp collector from lab_ebgp {",
            f'  description "{c["name"]} route collector AS{c["asn"]}";',
            f"  local {lo4} as {asn};",
            f"  neighbor {cn.attachments[0].address(4)} as {c['asn']};",
            "  multihop 16;",
            "  hold time 30;",
            "  keepalive time 10;",
            "  ipv4 { import none; export filter to_collector; };",
            f"  ipv6 {{ import none; export filter to_collector; next hop address {lo6}; }};",
            "}",
        ]
        return "\n".join(out) + "\n"

    def collector_config(self, run_dir, mrt_dir):
        c = self.topo["collector"]
        cn = self.nodes[c["node"]]
        att = cn.attachments[0]
        gw = {f: next(x for x in att.segment.attachments if x.node != cn.name).address(f) for f in (4, 6)}
        out = [
            f"# BIRD 2 config of the route collector {c['name']} (AS{c['asn']}).",
            "# Generated by scripts/lab from scripts/lab.d/topology.json; edit that file, not this one.",
            f'log "{run_dir}/{cn.name}.log" all;',
            f"router id {att.address(4)};",
            "",
            "protocol device { scan time 5; }",
            "",
            "# Next hops of the multihop sessions resolve through these tables, which stay out of the dumps.",
            "ipv4 table igp4;",
            "ipv6 table igp6;",
            f"protocol static igp_default4 {{ ipv4 {{ table igp4; }}; route 0.0.0.0/0 via {gw[4]}; }}",
            f"protocol static igp_default6 {{ ipv6 {{ table igp6; }}; route ::/0 via {gw[6]}; }}",
            "",
            "template bgp collector_peer {",
            f"  local {att.address(4)} as {c['asn']};",
            "  multihop 16;",
            # Long enough to ride out the few seconds a lost IXP peer blackholes the way here.
            "  hold time 30;",
            "  keepalive time 10;",
            "  connect delay time 1;",
            "  connect retry time 3;",
            "  error wait time 1, 10;",
            "  ipv4 { import all; export none; igp table igp4; };",
            "  ipv6 { import all; export none; igp table igp6; };",
            "}",
        ]
        for asn, a in sorted(self.ases.items()):
            out += [
                f"protocol bgp as{asn} from collector_peer {{",
                f'  description "AS{asn} {a["name"]} ({a["border"]})";',
                f"  neighbor {a['loopback'][0]} as {asn};",
                "}",
            ]
        out += [
            "",
            "# Periodic RIB dumps (TABLE_DUMP_V2), like a collector's bview files; `scripts/lab mrt` forces one.",
            "protocol mrt bview {",
            '  table "master*";',
            "  where source = RTS_BGP;",
            # BIRD 2.0.12 has no {table} in file names: both tables go into one file, one after the other.
            f'  filename "{mrt_dir}/bview.%Y%m%d.%H%M%S.mrt";',
            "  period 300;",
            "}",
        ]
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------ what BIRD should hold

    def expected_bird(self):
        """node -> {(prefix, protocol or None): as_path} that BIRD's best routes must show."""
        exp = {}
        for asn, a in self.ases.items():
            table = {}
            for p, r in self.rib[asn].items():
                if r.session is None:
                    table[str(p)] = {"path": [], "from": None}
                else:
                    table[str(p)] = {"path": r.path, "from": r.session.remote.replace("-", "_")}
            exp[a["border"]] = table
        coll = {}
        for asn, a in self.ases.items():
            for p, r in self.rib[asn].items():
                coll.setdefault(str(p), {})[f"as{asn}"] = [asn] + r.path
        exp[self.topo["collector"]["node"]] = coll
        return exp


# ---------------------------------------------------------------- BIRD output

ROUTE_HEAD = re.compile(r"^(\S+/\d+)\s+(\S+)\s+\[(\S+)\s")
ROUTE_MORE = re.compile(r"^\s+(\S+)\s+\[(\S+)\s")


def parse_show_route_all(text):
    """`show route all` -> list of dicts (prefix, protocol, best, as_path, dest)."""
    routes = []
    prefix = None
    cur = None
    for line in text.splitlines():
        m = ROUTE_HEAD.match(line)
        m2 = None if m else ROUTE_MORE.match(line)
        if m or (m2 and prefix is not None and not line.strip().startswith(("via", "dev", "Type:", "BGP.", "Table"))
                 and m2.group(1) in ("unicast", "unreachable", "blackhole", "prohibit")):
            if m:
                prefix = m.group(1)
                dest, proto = m.group(2), m.group(3)
            else:
                dest, proto = m2.group(1), m2.group(2)
            cur = {"prefix": prefix, "protocol": proto, "dest": dest, "best": " * " in line, "as_path": None}
            routes.append(cur)
            continue
        s = line.strip()
        if cur is not None and s.startswith("BGP.as_path:"):
            cur["as_path"] = [int(x) for x in s.split(":", 1)[1].split()]
    return routes


def birdc(sock, *args):
    r = subprocess.run(["birdc", "-s", sock, *args], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or r.stdout.strip())
    return r.stdout


def compare_bird(lab, run_dir):
    """List of differences between the running BIRDs and the model; [] when converged."""
    diffs = []
    for node, table in lab.expected_bird().items():
        sock = os.path.join(run_dir, f"{node}.ctl")
        try:
            protos = birdc(sock, "show", "protocols")
            text = birdc(sock, "show", "route", "all")
        except Exception as e:  # noqa: BLE001 - any failure means "not there yet"
            diffs.append(f"{node}: birdc failed: {e}")
            continue
        routes = parse_show_route_all(text)
        if node == lab.topo["collector"]["node"]:
            got = {}
            for r in routes:
                if r["protocol"].startswith("as"):
                    got.setdefault(r["prefix"], {})[r["protocol"]] = r["as_path"]
            for prefix, peers in table.items():
                for proto, path in peers.items():
                    have = got.get(prefix, {}).get(proto)
                    if have != path:
                        diffs.append(f"{node}: {prefix} from {proto}: BIRD has {have}, model says {path}")
            extra = {(p, x) for p, d in got.items() for x in d} - {(p, x) for p, d in table.items() for x in d}
            for p, x in sorted(extra):
                diffs.append(f"{node}: {p} from {x} is not in the model")
        else:
            best = {r["prefix"]: r for r in routes if r["best"]}
            for prefix, want in table.items():
                have = best.get(prefix)
                if have is None:
                    diffs.append(f"{node}: no route for {prefix} (model: {want['path'] or 'own'})")
                    continue
                if want["from"] is None:
                    if have["protocol"] not in ("originate4", "originate6"):
                        diffs.append(f"{node}: own prefix {prefix} is from {have['protocol']}")
                elif have["protocol"] != want["from"] or have["as_path"] != want["path"]:
                    diffs.append(f"{node}: {prefix} via {have['protocol']} path {have['as_path']}, "
                                 f"model says via {want['from']} path {want['path']}")
            for prefix in sorted(set(best) - set(table)):
                diffs.append(f"{node}: {prefix} is not in the model")
            for line in protos.splitlines():
                f = line.split()
                if len(f) >= 6 and f[1] == "BGP" and f[5] != "Established":
                    # A session over a link that is down is expected to be down.
                    peer = f[0]
                    if any(peer == s.remote.replace("-", "_") for s in lab.sessions.get(node, [])) or peer == "collector":
                        diffs.append(f"{node}: BGP session {peer} is {f[5]}")
    return diffs


# ---------------------------------------------------------------- check against real traces

def ns_run(ns, *cmd, timeout=120):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=timeout)


def scamper_trace(ns, addr, method):
    r = ns_run(ns, "scamper", "-O", "json", "-c", f"trace -P {method} -q 1 -w 1", "-i", addr)
    if r.returncode != 0:
        raise RuntimeError(f"scamper failed: {r.stderr.strip()}")
    for line in r.stdout.splitlines():
        obj = json.loads(line)
        if obj.get("type") == "trace":
            hops = {}
            for h in obj.get("hops", []):
                hops.setdefault(h["probe_ttl"], h["addr"])
            n = max(hops) if hops else 0
            return [hops.get(t) for t in range(1, n + 1)], obj.get("stop_reason")
    raise RuntimeError("scamper printed no trace")


def traceroute_classic(ns, addr):
    fam = "-6" if ":" in addr else "-4"
    r = ns_run(ns, "traceroute", fam, "-n", "-q", "3", "-w", "1", addr)
    if r.returncode != 0:
        raise RuntimeError(f"traceroute failed: {r.stderr.strip()}")
    out = []
    for line in r.stdout.splitlines()[1:]:
        f = line.split()
        if not f or not f[0].isdigit():
            continue
        addrs = [x for x in f[1:] if re.match(r"^[0-9a-f:.]+$", x) and (":" in x or x.count(".") == 3)]
        out.append(sorted(set(addrs)) if addrs else [None])
    return out


def mtr_trace(ns, addr):
    r = ns_run(ns, "mtr", "-n", "--json", "-c", "2", addr)
    if r.returncode != 0:
        raise RuntimeError(f"mtr failed: {r.stderr.strip()}")
    hubs = json.loads(r.stdout)["report"]["hubs"]
    return [None if h["host"] == "???" else h["host"] for h in hubs]


def matches(expected, got):
    """Expected hop (address, None or list of ECMP alternatives) against an observed address."""
    if isinstance(expected, list):
        return got in expected
    return got == expected


def same_as_branch(branches, got):
    return any(len(b) == len(got) and all(x == y for x, y in zip(b, got)) for b in branches)


def check(lab, rounds):
    """Traces every destination address from every vantage and tries TCP between the vantages;
    returns the problems found."""
    truth = lab.truth()
    problems = []
    for name, v in truth["vantages"].items():
        # The default vantage gets every tool; the others the Paris traces cyberWatch itself sends.
        problems += check_vantage(v, rounds, every_tool=v["vantage"]["default"])
    problems += check_tcp(lab)
    return problems


def check_vantage(v, rounds, every_tool):
    """Traces every destination address from one vantage; returns the problems found."""
    ns = v["vantage"]["namespace"]
    name = v["vantage"]["node"]
    problems = []
    print(f"== from {name} ({ns}, AS{v['vantage']['asn']})")
    for d in v["destinations"]:
        for t in d["traces"]:
            addr, want, branches = t["address"], t["hop_addresses"], t["branches"]
            print(f"{d['name']} {addr}: AS path {' '.join(map(str, t['as_path']))}")
            print(f"  truth:                {json.dumps(want)}")
            seen = set()
            for i in range(rounds):
                got, stop = scamper_trace(ns, addr, "icmp-paris")
                ok = same_as_branch(branches, got)
                print(f"  scamper icmp-paris #{i + 1}: {json.dumps(got)} {'OK' if ok else 'MISMATCH'}")
                if not ok:
                    problems.append(f"{name} {addr}: scamper icmp-paris run {i + 1} gave {got} (stop reason {stop})")
                seen.add(tuple(got))
            if len(seen) > 1:
                problems.append(f"{name} {addr}: Paris traces of one flow took different branches: {sorted(seen)}")
            if not every_tool:
                continue
            if ":" in addr:
                # scamper 20211212 sends IPv6 udp-paris probes whose answers it then fails to match
                # (the answers do arrive); see scripts/lab.md.
                print("  scamper udp-paris:    skipped for IPv6 (scamper 20211212 matches no answer)")
            else:
                got, stop = scamper_trace(ns, addr, "udp-paris")
                ok = same_as_branch(branches, got)
                print(f"  scamper udp-paris:    {json.dumps(got)} {'OK' if ok else 'MISMATCH'}")
                if not ok:
                    problems.append(f"{addr}: scamper udp-paris gave {got} (stop reason {stop})")
            classic = traceroute_classic(ns, addr)
            ok = len(classic) == len(want) and all(
                (w is None and g == [None]) or (w is not None and all(matches(w, x) for x in g))
                for w, g in zip(want, classic))
            print(f"  traceroute (UDP):     {json.dumps(classic)} {'OK' if ok else 'MISMATCH'}")
            if not ok:
                problems.append(f"{addr}: traceroute gave {classic}")
            if any(len(g) > 1 for g in classic):
                print("                        (classic traceroute mixed ECMP branches in one trace, as Paris traceroute does not)")
            got = mtr_trace(ns, addr)
            ok = len(got) == len(want) and all(matches(w, g) for w, g in zip(want, got))
            print(f"  mtr:                  {json.dumps(got)} {'OK' if ok else 'MISMATCH'}")
            if not ok:
                problems.append(f"{addr}: mtr gave {got}")
    return problems


TCP_PROBE = """
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(10)
c, peer = s.accept()
c.sendall(peer[0].encode())
c.close()
"""


def check_tcp(lab):
    """TCP from each vantage to every other one, over lab routing (the way silos of different
    vantages reach each other's silo and gateway ports); returns the problems found."""
    problems = []
    print("== TCP between the vantages")
    for server in lab.silo_vantages:
        for addr in lab.nodes[server].attachments[0].addresses:
            for client in lab.silo_vantages:
                if client == server:
                    continue
                listener = subprocess.Popen(["ip", "netns", "exec", lab.prefix + server, sys.executable, "-c", TCP_PROBE, str(addr.ip)],
                                            stdout=subprocess.PIPE, text=True)
                try:
                    port = listener.stdout.readline().strip()
                    r = ns_run(lab.prefix + client, sys.executable, "-c",
                               "import socket, sys; c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); "
                               "print(c.recv(100).decode())", str(addr.ip), port, timeout=20)
                    mine = lab.nodes[client].attachments[0].address(addr.version)
                    ok = r.returncode == 0 and r.stdout.strip() == str(mine)
                    print(f"  {client} -> {server} [{addr.ip}]:{port}: {'OK, seen from ' + r.stdout.strip() if ok else 'FAILED'}")
                    if not ok:
                        problems.append(f"TCP {client} -> {server} {addr.ip}:{port} failed: {r.stderr.strip() or r.stdout.strip()}")
                finally:
                    listener.kill()
                    listener.wait()
    return problems


def check_mrt(lab, path):
    """Compares `bgpdump -m` of the collector's dump with what each border should export to it."""
    r = subprocess.run(["bgpdump", "-m", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return [f"bgpdump -m {path} failed: {r.stderr.strip()}"]
    got = {}
    for line in r.stdout.splitlines():
        f = line.split("|")
        if len(f) < 7 or f[0] != "TABLE_DUMP2":
            return [f"unexpected bgpdump line: {line}"]
        got[(f[5], f"as{f[4]}")] = [int(x) for x in f[6].split()]
    want = {(p, peer): path for p, peers in lab.expected_bird()[lab.topo["collector"]["node"]].items()
            for peer, path in peers.items()}
    problems = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            problems.append(f"MRT {key[0]} from {key[1]}: dump has {got.get(key)}, model says {want.get(key)}")
    return problems


# ---------------------------------------------------------------- command line

def read_down(path):
    if not path or not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out.append(parts)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topology", required=True)
    ap.add_argument("--down-links", help="file of 'A B' lines: links that `scripts/lab link down` took down")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("plan")
    bc = sub.add_parser("bird-configs")
    bc.add_argument("--run-dir", required=True)
    bc.add_argument("--mrt-dir", required=True)
    sub.add_parser("truth")
    sub.add_parser("prefixes")
    sub.add_parser("ptr-records")
    cv = sub.add_parser("converged")
    cv.add_argument("--run-dir", required=True)
    cv.add_argument("--timeout", type=float, default=90)
    cv.add_argument("--settle", type=float, default=0,
                    help="seconds the routes must stay as predicted (a session may still be dying)")
    ck = sub.add_parser("check")
    ck.add_argument("--rounds", type=int, default=3)
    lk = sub.add_parser("link")
    lk.add_argument("a")
    lk.add_argument("b")
    sub.add_parser("validate")
    sub.add_parser("vantages")
    sub.add_parser("agent-vantages")
    cm = sub.add_parser("check-mrt")
    cm.add_argument("--mrt", required=True)
    args = ap.parse_args()

    try:
        with open(args.topology) as f:
            topo = json.load(f)
        lab = Lab(topo, read_down(args.down_links))
    except (OSError, ValueError, KeyError, TopologyError) as e:
        fail(f"{args.topology}: {e}")

    if args.cmd == "validate":
        for w in lab.warnings:
            print(f"lab: warning: {w}", file=sys.stderr)
    elif args.cmd in ("vantages", "agent-vantages"):
        for name in lab.silo_vantages if args.cmd == "vantages" else lab.agent_vantages:
            v = lab.vantage_info(name)
            print("\t".join([name, v["namespace"], str(v["asn"]), ",".join(v["addresses"])]))
    elif args.cmd == "plan":
        for line in lab.plan():
            print("\t".join(line))
    elif args.cmd == "bird-configs":
        os.makedirs(args.run_dir, exist_ok=True)
        for asn in sorted(lab.ases):
            border = lab.border_of(asn)
            with open(os.path.join(args.run_dir, f"{border}.conf"), "w") as f:
                f.write(lab.bird_config(border, args.run_dir, args.mrt_dir))
        with open(os.path.join(args.run_dir, f"{topo['collector']['node']}.conf"), "w") as f:
            f.write(lab.collector_config(args.run_dir, args.mrt_dir))
    elif args.cmd == "truth":
        json.dump(lab.truth(), sys.stdout, indent=2)
        print()
    elif args.cmd == "prefixes":
        print(f"; cyberWatch lab prefixes (pyasn format), from {os.path.basename(args.topology)}")
        for p, asn in lab.announced():
            print(f"{p}\t{asn}")
    elif args.cmd == "ptr-records":
        for address, name in lab.ptr_records():
            print(f"{address}\t{name}\t{ipaddress.ip_address(address).reverse_pointer}")
    elif args.cmd == "converged":
        deadline = time.monotonic() + args.timeout
        matched_since = None
        while True:
            diffs = compare_bird(lab, args.run_dir)
            if not diffs:
                matched_since = matched_since or time.monotonic()
                if time.monotonic() - matched_since >= args.settle:
                    return
            else:
                matched_since = None
            if time.monotonic() > deadline:
                print(f"lab: BGP did not converge to the model within {args.timeout:.0f}s:", file=sys.stderr)
                for d in diffs[:40]:
                    print(f"  {d}", file=sys.stderr)
                sys.exit(1)
            time.sleep(1)
    elif args.cmd == "check":
        problems = check(lab, args.rounds)
        if problems:
            print("lab check: FAILED", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            sys.exit(1)
        print("lab check: every trace matches the truth")
    elif args.cmd == "check-mrt":
        problems = check_mrt(lab, args.mrt)
        if problems:
            for p in problems[:40]:
                print(f"lab: {p}", file=sys.stderr)
            sys.exit(1)
    elif args.cmd == "link":
        try:
            for ns, ifname in lab.link_ends(args.a, args.b):
                print(f"{ns}\t{ifname}")
        except TopologyError as e:
            fail(str(e))


if __name__ == "__main__":
    main()
