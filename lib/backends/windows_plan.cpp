// An order-free rule set for Windows Firewall, computed from packet sets.
#include "backends/windows_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <unordered_map>
#include <unordered_set>

#include "analysis/evaluator.hpp"
#include "backends/windows_internal.hpp"

namespace rulec::backends::windows {
namespace {

using namespace detail;
using analysis::PacketSet;
namespace values = analysis::values;

// ---- who decides what ----------------------------------------------------

/// The evaluator's order of precedence: the first matching `done` rule
/// decides, else the last matching rule.
std::vector<std::uint32_t> precedence(const ir::Policy& p) {
  std::vector<std::uint32_t> order;
  order.reserve(p.rules.size());
  for (std::uint32_t i = 0; i < p.rules.size(); ++i)
    if (p.rules[i].done) order.push_back(i);
  for (std::uint32_t i = static_cast<std::uint32_t>(p.rules.size()); i-- > 0;)
    if (!p.rules[i].done) order.push_back(i);
  return order;
}

/// Above this many pieces the whole-direction method gives way to the
/// rule-by-rule one, and above kMaxRulePieces that one refuses (RC554).
constexpr std::size_t kMaxRegions = 200'000;
/// Above this many IR rules the whole-direction method is not tried at all:
/// its pieces grow faster than the rule-by-rule method's.
constexpr std::size_t kWholeMethodRules = 2'000;
constexpr std::size_t kMaxRulePieces = 2'000'000;
/// Above this many pieces of one rule's region the rule-by-rule method
/// refuses (RC554): cutting a region grows with its pieces times the rules
/// that cut it (the generated 100,000 rules reach about 6,000).
constexpr std::size_t kMaxOneRulePieces = 20'000;
/// Above this many IR rules neither method is tried and the policy is
/// refused at once (RC554): the analysis index alone would need gigabytes
/// (the generated 100,000 rules, 114,000 after expansion, peak at about
/// 650 MB).
constexpr std::size_t kMaxPolicyRules = 200'000;
/// Packets still undecided, kept apart by protocol so that a rule for one
/// protocol only looks at that protocol's pieces.
struct Bucket {
  std::vector<Interval> protocols;
  std::vector<Box> boxes;
};

std::vector<Bucket> buckets_of(const std::vector<Box>& universe) {
  std::vector<Bucket> out;
  std::vector<Interval> rest{{0, 255}};
  for (unsigned p : {ir::proto::tcp, ir::proto::udp, ir::proto::icmp, ir::proto::icmpv6, ir::proto::gre,
                     ir::proto::esp, ir::proto::ah, ir::proto::sctp}) {
    out.push_back({{{p, p}}, {}});
    rest = values::subtract(rest, out.back().protocols);
  }
  out.push_back({rest, {}});
  for (Bucket& b : out)
    for (const Box& u : universe)
      if (auto part = with_field(u, Field::Protocol, values::intersect(u[Field::Protocol], b.protocols)))
        b.boxes.push_back(std::move(*part));
  return out;
}

/// Splits one direction's packets into regions, each decided by one rule
/// or by the default: exactly analysis::evaluate without state. nullopt
/// when the pieces grow beyond kMaxRegions.
std::optional<std::vector<Region>> decide(const ir::Policy& p, ir::Direction d) {
  std::vector<Bucket> rest = buckets_of(PacketSet::of(d, p).boxes());
  std::vector<Box> next;
  std::vector<Region> out;
  for (std::uint32_t i : precedence(p)) {
    const ir::Rule& r = p.rules[i];
    if (!ir::field_contains(r.match.directions, static_cast<std::uint8_t>(d))) continue;
    PacketSet match = PacketSet::of(r.match, p);
    for (const Box& m : match.boxes())
      for (Bucket& bucket : rest) {
        if (!values::overlap(m[Field::Protocol], bucket.protocols)) continue;
        next.clear();
        for (Box& a : bucket.boxes) {
          if (!overlaps(a, m)) {
            next.push_back(std::move(a));
            continue;
          }
          out.push_back({*intersect(a, m), i, r.action == ir::Action::Pass});
          subtract(a, m, next);
        }
        bucket.boxes.swap(next);
      }
    std::size_t pieces = out.size();
    for (const Bucket& bucket : rest) pieces += bucket.boxes.size();
    if (pieces > kMaxRegions) return std::nullopt;
  }
  bool pass = p.default_for(d).action == ir::Action::Pass;
  for (Bucket& bucket : rest)
    for (Box& a : bucket.boxes) out.push_back({std::move(a), -1, pass});
  return out;
}

// ---- what Windows cannot say ---------------------------------------------

/// Beyond this many pieces, replies are not followed packet by packet.
constexpr std::size_t kMaxReplyPieces = 256;

class Approximations {
 public:
  Approximations(const ir::Policy& p, const PlanOptions& o, diag::Sink& s) : policy_(p), options_(o), sink_(s) {}

  /// Reports reject, log and stateless passes; false when strict refuses.
  /// What a direction drops: its blocked covers, or (`complement`) what its
  /// passed covers leave out.
  struct Drops {
    const CoverIndex* blocked = nullptr;
    const CoverIndex* passed = nullptr;
    bool complement = false;
  };

  bool check(const std::array<std::vector<Region>, 2>& regions, const std::array<Drops, 2>& drops, Plan& plan) {
    for (int d = 0; d < 2; ++d) {
      const ir::Default& def = policy_.defaults[d];
      if (def.explicit_ && def.action == ir::Action::Reject)
        report(def.origin, "RC551", "Windows Firewall cannot reject: the default drops silently instead",
               "use 'default block' to say what Windows does");
      for (const Region& r : regions[d]) {
        if (r.rule < 0) continue;
        const ir::Rule& rule = policy_.rules[static_cast<std::size_t>(r.rule)];
        if (rule.log) {
          (r.pass ? plan.log_allowed : plan.log_blocked) = true;
          once(rule, 0, "RC552",
               "Windows Firewall logs per profile, not per rule: the profile's log records every "
               "packet of this verdict",
               "drop '>> log', or accept the profile-wide log");
        }
        if (rule.action == ir::Action::Reject)
          once(rule, 1, "RC551", "Windows Firewall cannot reject: this rule drops silently instead",
               "use 'block' to say what Windows does");
        if (r.pass && !rule.state) check_replies(r, rule, drops[1 - d]);
      }
    }
    return ok_;
  }

 private:
  /// Windows keeps state for every allowed connection: replies the policy
  /// would drop pass there.
  void check_replies(const Region& r, const ir::Rule& rule, const Drops& other) {
    if (reported(rule, 2)) return;
    PacketSet forward;
    forward.add_disjoint(r.box);
    PacketSet replies = forward.replies();
    std::optional<analysis::Packet> witness;
    if (other.complement) {
      // A few replies first (to a realistic packet, then each box's highest
      // corner): one the other direction does not pass is the finding,
      // without cutting the replies into pieces.
      if (auto p = first_witness(r.box)) {
        analysis::Packet q = analysis::reply_to(*p);
        if (!passes(*other.passed, point_box(q, analysis::interface_index(policy_, q)))) witness = q;
      }
      for (const Box& rb : replies.boxes()) {
        if (witness) break;
        Box::Builder corner;
        for (std::size_t f = 0; f < kFields; ++f) {
          U128 hi = rb.hull(static_cast<Field>(f)).hi;
          corner.add(std::vector<Interval>{{hi, hi}});
        }
        Box c = corner.take();
        if (!passes(*other.passed, c)) witness = first_witness(std::move(c));
      }
    }
    for (const Box& rb : replies.boxes()) {
      if (witness) break;
      if (other.complement) {
        auto rest = outside(rb, *other.passed, kMaxReplyPieces);
        if (!rest) {  // too fragmented to follow packet by packet: say so without a witness
          once(rule, 2, "RC550",
               "Windows Firewall keeps state for every allowed connection: replies to packets this rule passes "
               "come back, and this policy is too large to check whether it would drop some of them",
               "add '>> state' to the rule, or accept that Windows passes the replies");
          return;
        }
        if (!rest->empty()) {
          witness = first_witness(rest->front());
          break;
        }
        continue;
      }
      other.blocked->near(rb, ids_);
      for (std::uint32_t id : ids_)
        if (const Box& o = other.blocked->covers()[id].box; overlaps(rb, o)) {
          witness = first_witness(*intersect(rb, o));
          break;
        }
      if (witness) break;
    }
    if (!witness) return;
    diag::Diagnostic& d = once(rule, 2, "RC550",
                               "Windows Firewall keeps state for every allowed connection: replies to packets "
                               "this rule passes come back, though the policy drops them",
                               "add '>> state' to the rule, or accept that Windows passes the replies");
    d.witness = analysis::format_packet(*witness);
  }

  std::optional<analysis::Packet> first_witness(Box b) const {
    PacketSet set;
    set.add_disjoint(std::move(b));
    return set.witness(policy_);
  }

  /// True when a covering box of `passed` holds the packet (a one-packet box).
  bool passes(const CoverIndex& passed, const Box& packet) {
    passed.near(packet, ids_);
    return std::any_of(ids_.begin(), ids_.end(),
                       [&](std::uint32_t id) { return overlaps(passed.covers()[id].box, packet); });
  }

  bool reported(const ir::Rule& rule, int kind) {
    return !seen_.insert(std::uint64_t{rule.source_rule} * 4 + static_cast<unsigned>(kind)).second;
  }

  diag::Diagnostic& once(const ir::Rule& rule, int kind, const char* code, std::string message, std::string hint) {
    if (kind != 2 && reported(rule, kind)) return scratch_;
    return report(rule.origin, code, std::move(message), std::move(hint));
  }

  diag::Diagnostic& report(const diag::Location& loc, const char* code, std::string message, std::string hint) {
    auto sev = options_.strict ? diag::Severity::Error : diag::Severity::Warning;
    if (options_.strict) {
      ok_ = false;
      hint += " (refused because of --strict)";
    }
    diag::Diagnostic d{sev, code, std::move(message), loc};
    d.hint = std::move(hint);
    sink_.add(std::move(d));
    return sink_.all().back();
  }

  const ir::Policy& policy_;
  const PlanOptions& options_;
  diag::Sink& sink_;
  bool ok_ = true;
  std::unordered_set<std::uint64_t> seen_;
  diag::Diagnostic scratch_;
  std::vector<std::uint32_t> ids_;
};


// ---- covering the passed or the blocked packets ----------------------------

/// Above this many box pairs, covers are not widened (the cost is quadratic).
constexpr std::size_t kWidenBudget = 100'000'000;
/// An allow rule may be widened over this many pieces of blocked packets,
/// each then closed again by a block rule (which beats the allow rule).
constexpr std::size_t kMaxClosing = 4;

/// Roughly how many Windows rules a box needs: one per protocol unless it
/// holds them all, one per family unless the addresses are any.
std::size_t rule_cost(const Box& b) {
  std::size_t protos = 0;
  for (const Interval& i : values::intersect(b[Field::Protocol], std::vector<Interval>{{0, 255}}))
    protos += static_cast<std::size_t>(i.hi - i.lo + 1);
  auto fams = values::intersect(b[Field::Family], std::vector<Interval>{{0, 1}});
  bool both = fams.size() == 1 && fams[0].lo == 0 && fams[0].hi == 1;
  return (protos == 256 ? 1 : protos) * (both ? 2 : 1);
}

/// A box's protocols as a bit set; nullopt when it holds values beyond 255.
std::optional<std::bitset<256>> protocol_bits(const Box& b) {
  std::bitset<256> out;
  for (const Interval& i : b[Field::Protocol]) {
    if (i.hi > 255) return std::nullopt;
    for (auto v = static_cast<unsigned>(i.lo); v <= static_cast<unsigned>(i.hi); ++v) out.set(v);
  }
  return out;
}

/// The hulls of many boxes, each field's ends replaced by their ranks among
/// all the boxes' ends, laid out field by field: which fields of each box
/// miss one box's hulls is then a few 32-bit comparisons.
class HullRanks {
 public:
  explicit HullRanks(const std::vector<const Cover*>& boxes) : n_(boxes.size()), multi_(boxes.size()) {
    protocols_.reserve(n_);
    for (const Cover* c : boxes) protocols_.push_back(protocol_bits(c->box));
    for (std::size_t f = 0; f < kFields; ++f) {
      std::vector<U128>& ends = ends_[f];
      for (const Cover* c : boxes) {
        Interval h = c->box.hull(static_cast<Field>(f));
        ends.push_back(h.lo);
        ends.push_back(h.hi);
      }
      std::sort(ends.begin(), ends.end());
      ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
      lo_[f].reserve(n_);
      hi_[f].reserve(n_);
      for (std::size_t k = 0; k < n_; ++k) {
        Interval h = boxes[k]->box.hull(static_cast<Field>(f));
        lo_[f].push_back(rank(f, h.lo));
        hi_[f].push_back(rank(f, h.hi));
        if (boxes[k]->box[static_cast<Field>(f)].size() > 1) multi_[k] |= static_cast<std::uint16_t>(1u << f);
      }
    }
  }

  /// Per box, the fields whose hull misses b's (a bit per Field).
  void misses(const Box& b, std::vector<std::uint16_t>& out) const {
    out.assign(n_, 0);
    for (std::size_t f = 0; f < kFields; ++f) {
      Interval h = b.hull(static_cast<Field>(f));
      const std::vector<U128>& ends = ends_[f];
      // A box's lo lies above b's hi when its rank is at least the number of
      // ends up to b's hi; its hi lies below b's lo when its rank is less
      // than the number of ends below b's lo.
      auto above = static_cast<std::uint32_t>(std::upper_bound(ends.begin(), ends.end(), h.hi) - ends.begin());
      auto below = static_cast<std::uint32_t>(std::lower_bound(ends.begin(), ends.end(), h.lo) - ends.begin());
      const std::uint32_t *lo = lo_[f].data(), *hi = hi_[f].data();
      std::uint16_t* o = out.data();
      for (std::size_t k = 0; k < n_; ++k)
        o[k] |= static_cast<std::uint16_t>((static_cast<unsigned>(lo[k] >= above) | static_cast<unsigned>(hi[k] < below)) << f);
    }
  }

  /// The fields of box k that hold more than one range.
  unsigned multi(std::size_t k) const { return multi_[k]; }
  /// The protocols of box k as a bit set (nullopt: values beyond 255).
  const std::optional<std::bitset<256>>& protocols(std::size_t k) const { return protocols_[k]; }

 private:
  std::uint32_t rank(std::size_t f, U128 v) const {
    return static_cast<std::uint32_t>(std::lower_bound(ends_[f].begin(), ends_[f].end(), v) - ends_[f].begin());
  }

  std::size_t n_;
  std::array<std::vector<U128>, kFields> ends_;
  std::array<std::vector<std::uint32_t>, kFields> lo_, hi_;
  std::vector<std::uint16_t> multi_;
  std::vector<std::optional<std::bitset<256>>> protocols_;
};

/// Widens each covered box field by field to the whole field wherever it
/// then still meets no packet of the other verdict: Windows rules may
/// overlap, so a wider rule is as exact and splits into fewer rules. With
/// `closing` (allow rules only), a widened box may also meet a few boxes of
/// blocked packets: their parts inside it are added to `closing` as block
/// rules. Such a part must not hold unnamed interfaces unless it holds all.
void widen(std::vector<Box>& covered, const std::vector<const Cover*>& others, U128 unnamed,
           std::vector<Cover>* closing) {
  // Ports and ICMP types first: for the protocols that have none they are
  // free, and only then can the protocol field grow over every protocol.
  static constexpr Field kOrder[] = {Field::Sport, Field::Dport, Field::IcmpType,  Field::Protocol,
                                     Field::Src,   Field::Dst,   Field::Interface, Field::Family};
  static const std::vector<Interval> kAll{{0, ~U128{0}}};
  if (covered.size() * std::max<std::size_t>(others.size(), 1) > kWidenBudget) return;
  const std::size_t limit = closing ? kMaxClosing : 0;
  auto closable = [&](const Box& wide, const Box& o) {
    static const std::vector<Interval> kSctp{{ir::proto::sctp, ir::proto::sctp}};
    auto x = intersect(wide, o);
    static const std::vector<Interval> kPorts{{0, 65535}};
    if (values::overlap((*x)[Field::Protocol], kSctp) &&
        (!is_full(values::intersect((*x)[Field::Sport], kPorts), 65535) ||
         !is_full(values::intersect((*x)[Field::Dport], kPorts), 65535)))
      return false;  // a block rule cannot close SCTP ports
    auto ifs = values::intersect(wide[Field::Interface], o[Field::Interface]);
    return unnamed == 0 || ifs.back().hi < unnamed || is_full(ifs, unnamed) || (ifs.front().lo == 0 && ifs.size() == 1);
  };
  // Per other box, the fields in which it misses b: hull tests on ranks,
  // then, only when a trial needs them, the values where a hull overlaps and
  // a field holds several ranges.
  const HullRanks ranks(others);
  std::vector<std::uint16_t> misses;
  struct Near {
    unsigned miss, unknown;  // fields known to miss b; fields not yet compared
    std::size_t k;
  };
  std::vector<Near> near;
  for (Box& b : covered) {
    ranks.misses(b, misses);
    const auto protos_b = protocol_bits(b);
    unsigned multi_b = 0;
    for (std::size_t f = 0; f < kFields; ++f)
      if (b[static_cast<Field>(f)].size() > 1) multi_b |= 1u << f;
    // True when other box e meets b in every field outside `mask` (b's
    // fields outside the widened ones are still its own).
    auto meets = [&](Near& e, unsigned mask) {
      if (e.miss & ~mask) return false;
      for (unsigned rest = e.unknown & ~mask; rest; rest &= rest - 1) {
        auto f = static_cast<Field>(__builtin_ctz(rest));
        unsigned bit = 1u << static_cast<unsigned>(f);
        e.unknown &= ~bit;
        bool meet = f == Field::Protocol && protos_b && ranks.protocols(e.k)
                        ? (*protos_b & *ranks.protocols(e.k)).any()
                        : values::overlap(b[f], others[e.k]->box[f]);
        if (!meet) {
          e.miss |= bit;
          return false;
        }
      }
      return true;
    };
    near.clear();
    const unsigned dir = 1u << static_cast<unsigned>(Field::Direction);
    for (std::size_t k = 0; k < others.size(); ++k) {
      Near e{misses[k], (ranks.multi(k) | multi_b) & ~misses[k] & ((1u << kFields) - 1), k};
      if (e.miss & dir || (e.unknown & dir && !meets(e, ~dir))) continue;
      near.push_back(e);
    }
    // A box meets b once every field it misses b in has been widened.
    unsigned widened = 0;
    std::size_t current = rule_cost(b);  // with the block rules that close it
    for (Field f : kOrder) {
      if (is_full(b[f], ~U128{0})) continue;
      unsigned trial = widened | 1u << static_cast<unsigned>(f);
      auto wide = with_field(b, f, kAll);
      std::size_t hits = 0, cost = rule_cost(*wide);
      for (Near& e : near) {
        if (!meets(e, trial)) continue;
        const Box& o = others[e.k]->box;
        if (++hits > limit || !closable(*wide, o)) {
          hits = SIZE_MAX;
          break;
        }
        cost += rule_cost(*intersect(*wide, o));
      }
      if (hits <= limit && cost <= current) {
        b = std::move(*wide);
        widened = trial;
        current = cost;
      }
    }
    if (!closing) continue;
    for (Near& e : near)
      if (meets(e, widened)) closing->push_back({*intersect(b, others[e.k]->box), false, false, others[e.k]->rule});
  }
}

/// Covers the regions whose verdict is `allow`, under a default of the
/// opposite. Regions that include interfaces the policy never names are
/// written for every interface; under allow rules, block rules then close
/// the named interfaces where that passes too much. Under block rules that
/// is impossible (allow never beats block): nullopt.
std::optional<std::vector<Cover>> cover(const ir::Policy& p, const std::vector<Cover>& pass,
                                        const std::vector<Cover>& block, bool allow) {
  const auto n = static_cast<U128>(p.interfaces.size());
  const std::vector<Interval> named{{0, n == 0 ? 0 : n - 1}};
  const std::vector<Cover>& side = allow ? pass : block;
  const std::vector<Cover>& opposite = allow ? block : pass;
  std::vector<Box> covered;
  std::vector<std::int64_t> tags;
  std::vector<const Cover*> others;
  for (const Cover& c : side) {
    covered.push_back(c.box);
    tags.push_back(c.rule);
  }
  for (const Cover& c : opposite) others.push_back(&c);
  std::vector<Cover> out;
  widen(covered, others, n, allow ? &out : nullptr);
  for (Cover& c : out) c.any_interface = c.box[Field::Interface].back().hi >= n;  // closing block rules
  std::vector<Box> widened;  // named-interface parts of rules written for every interface
  for (std::size_t i = 0; i < covered.size(); ++i) {
    const Box& b = covered[i];
    auto ifs = b[Field::Interface];
    bool unnamed = ifs.back().hi >= n;
    out.push_back({b, allow, unnamed, tags[i]});
    if (!unnamed || n == 0 || (ifs.front().lo == 0 && ifs.size() == 1)) continue;
    if (auto part = with_field(b, Field::Interface, named)) widened.push_back(std::move(*part));
  }
  if (widened.empty()) return out;
  std::vector<Box> closing;  // block rules on the named interfaces
  std::vector<std::int64_t> closing_tags;
  std::vector<const Cover*> passed;
  for (const Cover& c : side) passed.push_back(&c);
  for (const Cover& o : opposite) {
    if (std::none_of(widened.begin(), widened.end(), [&](const Box& w) { return overlaps(o.box, w); })) continue;
    if (!allow) return std::nullopt;
    auto ifs = values::intersect(o.box[Field::Interface], named);
    if (auto part = with_field(o.box, Field::Interface, ifs)) {
      closing.push_back(std::move(*part));
      closing_tags.push_back(o.rule);
    }
  }
  widen(closing, passed, n, nullptr);  // the interface field is either kept or made whole
  for (std::size_t i = 0; i < closing.size(); ++i)
    out.push_back({closing[i], false, closing[i][Field::Interface].back().hi >= n, closing_tags[i]});
  return out;
}

/// RC553 for each rule whose SCTP ports the chosen covering approximates.
bool report_sctp(const ir::Policy& p, const PlanOptions& options, const std::vector<std::int64_t>& rules,
                 diag::Sink& sink) {
  std::unordered_set<std::int64_t> seen;
  for (std::int64_t r : rules) {
    if (!seen.insert(r).second) continue;
    diag::Diagnostic d{options.strict ? diag::Severity::Error : diag::Severity::Warning, "RC553",
                       "Windows Firewall matches ports only for TCP and UDP: SCTP packets this rule decides are "
                       "blocked on every port",
                       {}};
    d.has_loc = r >= 0;
    if (r >= 0) d.loc = p.rules[static_cast<std::size_t>(r)].origin;
    d.hint = "name 'protocol { tcp, udp }' in the rule to leave SCTP out";
    if (options.strict) d.hint += " (refused because of --strict)";
    sink.add(std::move(d));
  }
  return rules.empty() || !options.strict;
}

/// Appends one direction's chosen rules to the plan.
void take(Built& chosen, bool default_allow, std::size_t alternative, DirectionPlan& dp, Plan& out) {
  dp.default_allow = default_allow;
  dp.alternative_rules = alternative;
  for (WinRule& r : chosen.rules) {
    ++(r.allow ? dp.allow_rules : dp.block_rules);
    out.rules.push_back(std::move(r));
  }
}

void too_large(diag::Sink& sink, std::string message) {
  diag::Diagnostic e{diag::Severity::Error, "RC554", std::move(message), {}};
  e.has_loc = false;
  e.hint = "merge address lists and port ranges, or compile for pf or nftables";
  sink.add(std::move(e));
}

/// Splits regions by verdict and merges each side.
void sides(const ir::Policy& policy, const std::vector<Region>& regions, std::vector<Cover>& pass,
           std::vector<Cover>& blocked) {
  for (const Region& r : regions) (r.pass ? pass : blocked).push_back({r.box, r.pass, false, r.rule});
  coalesce(pass, static_cast<U128>(policy.interfaces.size()));
  coalesce(blocked, static_cast<U128>(policy.interfaces.size()));
}

/// The whole-direction method: every region known, both coverings tried.
bool plan_whole(const ir::Policy& policy, const PlanOptions& options, std::array<std::vector<Region>, 2>& regions,
                diag::Sink& sink, Plan& out) {
  std::array<std::vector<Cover>, 2> pass, blocked;
  std::array<CoverIndex, 2> blocked_index;
  std::array<Approximations::Drops, 2> drops;
  for (int d = 0; d < 2; ++d) {
    sides(policy, regions[d], pass[d], blocked[d]);
    blocked_index[d] = CoverIndex(blocked[d]);
    drops[d] = {&blocked_index[d], nullptr, false};
  }
  bool ok = Approximations(policy, options, sink).check(regions, drops, out);
  for (int d = 0; d < 2; ++d) {
    auto dir = static_cast<ir::Direction>(d);
    auto allow = build(policy, dir, cover(policy, pass[d], blocked[d], true));
    auto block = build(policy, dir, cover(policy, pass[d], blocked[d], false));
    bool use_block = block && block->rules.size() < allow->rules.size();
    Built& chosen = use_block ? *block : *allow;
    ok = report_sctp(policy, options, chosen.sctp_ports, sink) && ok;
    const auto& other = use_block ? allow : block;
    take(chosen, use_block, other ? other->rules.size() : SIZE_MAX, out.directions[d], out);
  }
  return ok;
}

/// The rule-by-rule method for large policies: each direction covers the
/// verdict opposite to its default, which is what the rules decide.
bool plan_by_rule(const ir::Policy& policy, const PlanOptions& options, diag::Sink& sink, Plan& out) {
  std::array<std::vector<Cover>, 2> pass, blocked;
  std::array<Approximations::Drops, 2> drops;
  RuleRegions decided = decide_rules(policy, kMaxRulePieces, kMaxOneRulePieces, options.max_looks);
  if (decided.refused == RuleRegions::Refused::Overlap) {
    too_large(sink, fmt::format("the policy's rules overlap too much: the packets one rule decides split into more "
                                "than {} pieces, or finding them would look at more than {} rules in all; an "
                                "order-free Windows rule set for it would take too long to compute",
                                kMaxOneRulePieces, options.max_looks));
    return false;
  }
  if (decided.refused == RuleRegions::Refused::Pieces) {
    too_large(sink, fmt::format("the policy's rules split into more than {} pieces; an order-free Windows rule "
                                "set for it would be far too large", kMaxRulePieces));
    return false;
  }
  std::array<std::vector<Region>, 2>& regions = decided.regions;
  for (int d = 0; d < 2; ++d) sides(policy, regions[d], pass[d], blocked[d]);
  std::array<CoverIndex, 2> blocked_index, pass_index;
  for (int d = 0; d < 2; ++d) {
    blocked_index[d] = CoverIndex(blocked[d]);
    pass_index[d] = CoverIndex(pass[d]);
    bool default_pass = policy.defaults[d].action == ir::Action::Pass;
    drops[d] = {&blocked_index[d], &pass_index[d], !default_pass};
  }
  bool ok = Approximations(policy, options, sink).check(regions, drops, out);
  for (int d = 0; d < 2; ++d) {
    bool allow = drops[d].complement;  // default Block: allow rules
    auto covers = cover_side(policy, allow ? pass[d] : blocked[d], allow);
    if (!covers) {
      diag::Diagnostic e{diag::Severity::Error, "RC556",
                         "under a default of Allow, Windows Firewall cannot block packets on interfaces the policy "
                         "never names while passing the same packets on a named one",
                         {}};
      e.has_loc = false;
      e.hint = "name the interfaces in the block rules, or use 'default block' for this direction";
      sink.add(std::move(e));
      return false;
    }
    auto built = build(policy, static_cast<ir::Direction>(d), covers);
    ok = report_sctp(policy, options, built->sctp_ports, sink) && ok;
    take(*built, !allow, SIZE_MAX, out.directions[d], out);
  }
  return ok;
}

}  // namespace

bool plan(const ir::Policy& policy, const PlanOptions& options, diag::Sink& sink, Plan& out) {
  out = Plan{};
  if (policy.rules.size() > kMaxPolicyRules) {
    too_large(sink, fmt::format("the policy has {} rules after lists and services are expanded; an order-free Windows "
                                "rule set is computed for at most {}", policy.rules.size(), kMaxPolicyRules));
    return false;
  }
  std::optional<std::vector<Region>> in, outbound;
  if (!options.by_rule && policy.rules.size() <= kWholeMethodRules) in = decide(policy, ir::Direction::In);
  if (in) outbound = decide(policy, ir::Direction::Out);
  bool ok;
  if (outbound) {
    std::array<std::vector<Region>, 2> regions{std::move(*in), std::move(*outbound)};
    ok = plan_whole(policy, options, regions, sink, out);
  } else {
    ok = plan_by_rule(policy, options, sink, out);
    if (!ok && sink.has_errors() && out.rules.empty()) return false;
  }
  if (out.rules.size() > options.max_rules) {
    too_large(sink, fmt::format("the policy needs {} Windows Firewall rules, more than the limit of {}",
                                out.rules.size(), options.max_rules));
    return false;
  }
  return ok;
}

}  // namespace rulec::backends::windows
