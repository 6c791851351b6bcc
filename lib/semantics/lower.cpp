// Lowering rules to IR: each rule becomes a conjunction of field sets, one IR
// rule per service leg and address family.
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "semantics/catalog.hpp"
#include "semantics/names.hpp"
#include "semantics/semantics.hpp"
#include "support/page_mapper.hpp"

namespace rulec::semantics {

using ast::Clause;
using ast::Statement;
using diag::Severity;

namespace {

/// One field while clauses are combined: `any`, or a set that may become empty.
template <typename T>
struct Dim {
  bool any = true;
  ir::FieldSet<T> set;

  void restrict_to(const ir::FieldSet<T>& other) {
    if (any) {
      any = false;
      set = other;
      return;
    }
    if (set.size() == 1) {  // the usual case: one value or range, which stays one unless `other` splits it
      std::size_t hits = 0;
      ir::Range<T> hit{};
      for (const auto& o : other) {
        T lo = std::max(set[0].lo, o.lo), hi = std::min(set[0].hi, o.hi);
        if (lo <= hi) {
          hit = {lo, hi};
          ++hits;
        }
      }
      if (hits <= 1) {
        if (hits) set[0] = hit;
        else set.clear();
        return;
      }
    }
    ir::FieldSet<T> out;  // small sets fit in its inline ranges: no allocation
    std::size_t i = 0, j = 0;
    while (i < set.size() && j < other.size()) {
      T lo = std::max(set[i].lo, other[j].lo), hi = std::min(set[i].hi, other[j].hi);
      if (lo <= hi) out.push_back({lo, hi});
      if (set[i].hi < other[j].hi) ++i; else ++j;
    }
    set.swap(out);
  }
  bool empty() const { return !any && set.empty(); }
  bool allows(T v) const { return any || std::any_of(set.begin(), set.end(), [&](const auto& r) { return r.contains(v); }); }
  /// Takes one value out of a set (not out of `any`); the set stays normalised.
  void remove(T v) {
    for (std::size_t i = 0; i < set.size(); ++i) {
      ir::Range<T> r = set[i];
      if (!r.contains(v)) continue;
      if (r.lo == r.hi) set.erase(set.begin() + i);
      else if (r.lo == v) set[i].lo = static_cast<T>(v + 1);
      else if (r.hi == v) set[i].hi = static_cast<T>(v - 1);
      else {
        set[i].hi = static_cast<T>(v - 1);
        set.insert(set.begin() + i + 1, {static_cast<T>(v + 1), r.hi});
      }
      return;
    }
  }
  void reset() {
    any = true;
    set.clear();
  }
  /// Assigns without giving up this object's capacity.
  void assign(const Dim& other) {
    any = other.any;
    set.assign(other.set.begin(), other.set.end());
  }
  ir::FieldSet<T> field() const { return any ? ir::FieldSet<T>{} : set; }
};

template <typename T>
ir::FieldSet<T> one(T v) { return {{v, v}}; }

const ir::FieldSet<std::uint8_t> kPortProtocols = {{6, 6}, {17, 17}, {132, 132}};

/// How far ahead of the IR's end its pages are mapped, from how many statements on.
constexpr std::size_t kMapWindow = std::size_t(2) << 20;
/// How many IR rules ahead of the one it writes lowering asks for the next one's cache lines.
constexpr std::size_t kWriteAhead = 4;
constexpr std::size_t kMapFrom = 16384;

class RuleLowering {
 public:
  RuleLowering(const ast::Policy& p, Names& names, diag::Sink& sink, ir::Policy& out, bool keep,
               const diag::SourceMap* sources)
      : p_(p), names_(names), sink_(sink), out_(out), keep_(keep), sources_(sources) {}

  void lower(const Statement& s, std::uint32_t source_rule);

 private:
  /// The index of an interface in out_.interfaces, added on first use.
  std::uint32_t interface(std::uint32_t sym);
  std::uint32_t interface_named(std::uint32_t sym);
  /// The number of a label text in out_.labels (ir::Rule::label_id), added on first use.
  std::uint32_t label(std::uint32_t sym);
  /// The line `s` starts on, as the parser counted it (0 without sources:
  /// ir::Rule::line is recorded only with them); sets column_ to its column.
  std::uint32_t line_of(const Statement& s);
  /// Adds one IR rule; `src` and `dst` are null for any address.
  void emit(const Statement& s, std::uint32_t source_rule, std::optional<ir::Family> fam, const Dim<std::uint8_t>& protos,
            const Dim<std::uint16_t>& dport, const ir::FieldSet<ir::U128>* src, const ir::FieldSet<ir::U128>* dst,
            const Dim<std::uint8_t>& icmp);

  const ast::Policy& p_;
  Names& names_;
  diag::Sink& sink_;
  ir::Policy& out_;
  bool keep_;
  const diag::SourceMap* sources_;
  std::uint32_t line_ = 0, column_ = 0;  ///< of the rule being lowered
  // The rule being lowered. The working sets live across calls and are reset
  // for each rule, so lowering a million rules reuses their memory.
  Dim<std::uint8_t> protos_, families_, leg_protos_, family_protos_;
  Dim<std::uint16_t> sport_, dport_, leg_dport_;
  AddressSet src_, dst_;
  std::vector<Leg> legs_, service_legs_;
  std::vector<const Clause*> icmp_clauses_;
  int emitted_ = 0;
  std::vector<std::uint32_t> interface_of_symbol_;  ///< interface() remembered by symbol id
  std::vector<std::uint32_t> label_of_symbol_;      ///< label() remembered by symbol id (0: not yet)
};

std::uint32_t RuleLowering::interface(std::uint32_t sym) {
  if (sym < interface_of_symbol_.size() && interface_of_symbol_[sym] != UINT32_MAX) return interface_of_symbol_[sym];
  if (sym >= interface_of_symbol_.size()) interface_of_symbol_.resize(sym + 1, UINT32_MAX);
  return interface_of_symbol_[sym] = interface_named(sym);
}

std::uint32_t RuleLowering::label(std::uint32_t sym) {
  if (sym >= label_of_symbol_.size()) label_of_symbol_.resize(std::max<std::size_t>(sym + 1, p_.symbols.size()), 0);
  std::uint32_t& id = label_of_symbol_[sym];
  if (id == 0 && !p_.str(sym).empty()) {
    out_.labels.push_back(p_.str(sym));
    id = static_cast<std::uint32_t>(out_.labels.size());
  }
  return id;
}

std::uint32_t RuleLowering::line_of(const Statement& s) {
  if (!sources_ || s.file >= sources_->size()) return 0;
  column_ = s.column;
  return s.line;
}

std::uint32_t RuleLowering::interface_named(std::uint32_t sym) {
  const std::string& name = p_.str(sym);
  for (std::uint32_t i = 0; i < out_.interfaces.size(); ++i)
    if (out_.interfaces[i] == name) return i;
  out_.interfaces.push_back(name);
  return static_cast<std::uint32_t>(out_.interfaces.size() - 1);
}

void RuleLowering::lower(const Statement& s, std::uint32_t source_rule) {
  bool ok = true;
  line_ = keep_ ? line_of(s) : 0;
  if (!line_) column_ = 0;
  auto& protos = protos_;
  auto& families = families_;
  auto& sport = sport_;
  auto& dport = dport_;
  auto& src = src_;
  auto& dst = dst_;
  auto& legs = legs_;
  auto& icmp_clauses = icmp_clauses_;
  protos.reset();
  families.reset();
  sport.reset();
  dport.reset();
  for (AddressSet* a : {&src, &dst}) {
    a->any = true;
    a->v4.clear();
    a->v6.clear();
  }
  legs.clear();
  icmp_clauses.clear();
  bool src_given = false, dst_given = false;
  bool has_services = false;
  const Clause* port_clause = nullptr;
  const Clause* icmp_clause = nullptr;

  for (const Clause& c : p_.clauses_of(s)) {
    switch (c.kind) {
      case Clause::Kind::Protocol: {
        ir::FieldSet<std::uint8_t> set;
        ok = names_.protocols(s, p_.values_of(c), set) && ok;
        protos.restrict_to(set);
        break;
      }
      case Clause::Kind::From:
      case Clause::Kind::To: {
        bool from = c.kind == Clause::Kind::From;
        AddressSet& target = from ? src : dst;
        bool& given = from ? src_given : dst_given;
        if (c.value_count && !given) {  // the addresses go straight into the rule's set
          target.any = false;
          ok = names_.addresses(s, p_.values_of(c), target) && ok;
          if (target.any) {  // `any` among them: no restriction
            target.v4.clear();
            target.v6.clear();
          } else {
            given = true;
          }
        } else if (c.value_count) {
          AddressSet a;
          ok = names_.addresses(s, p_.values_of(c), a) && ok;
          if (!a.any) {  // two `from` clauses: both must hold
            Dim<ir::U128> d4{false, target.v4}, d6{false, target.v6};
            d4.restrict_to(a.v4);
            d6.restrict_to(a.v6);
            target.v4 = d4.set;
            target.v6 = d6.set;
          }
        }
        if (c.port_count) {
          ir::FieldSet<std::uint16_t> set;
          ok = names_.ports(s, p_.ports_of(c), set) && ok;
          (from ? sport : dport).restrict_to(set);
          port_clause = &c;
        }
        break;
      }
      case Clause::Kind::Service:
        has_services = true;
        {
          std::vector<Leg>& these = service_legs_;
          these.clear();
          ok = names_.services(s, p_.values_of(c), these) && ok;
          if (legs.empty() && !these.empty()) {
            legs.swap(these);  // both keep their room for the next rule
          } else {  // two service clauses: a packet must fit a leg of each
            std::vector<Leg> both;
            for (const Leg& a : legs)
              for (const Leg& b : these) {
                if (a.protocol != b.protocol) continue;
                Dim<std::uint16_t> d{a.ports.empty(), a.ports};
                if (!b.ports.empty()) d.restrict_to(b.ports);
                if (!d.empty()) both.push_back({a.protocol, d.field()});
              }
            legs = std::move(both);
          }
        }
        break;
      case Clause::Kind::Family: {
        bool v6 = p_.str(p_.values_of(c)[0].sym) == "inet6";
        families.restrict_to(one<std::uint8_t>(v6 ? 1 : 0));
        break;
      }
      case Clause::Kind::IcmpType:
        icmp_clause = &c;
        icmp_clauses.push_back(&c);
        break;
      case Clause::Kind::Leg:
        break;
    }
  }

  // Ports imply a protocol that has them.
  if (!sport.any || !dport.any) {
    if (!protos.any) {
      for (const auto& r : protos.set)
        for (unsigned pr = r.lo; pr <= r.hi; ++pr)
          if (!ir::proto::has_ports(pr)) {
            std::string_view name = protocol_name(pr);
            diag::Diagnostic d{Severity::Error, "RC203",
                               fmt::format("port given for protocol {}, which has no ports (only tcp, udp and sctp do)",
                                           name.empty() ? std::to_string(pr) : std::string(name)),
                               p_.loc(s, *port_clause)};
            d.hint = "drop the port, or split the rule by protocol";
            sink_.add(std::move(d));
            ok = false;
            pr = r.hi;  // once per range is enough
          }
    }
    protos.restrict_to(kPortProtocols);
  }
  if (icmp_clause) {
    Dim<std::uint8_t> icmp_protos = protos;
    static const ir::FieldSet<std::uint8_t> icmp_numbers = {{1, 1}, {58, 58}};
    icmp_protos.restrict_to(icmp_numbers);
    if (protos.any || icmp_protos.empty()) {
      diag::Diagnostic d{Severity::Error, "RC214", "icmp-type needs 'protocol icmp' or 'protocol icmpv6' in the rule",
                         p_.loc(s, *icmp_clause)};
      d.hint = "add 'protocol icmp' (IPv4) or 'protocol icmpv6' (IPv6)";
      sink_.add(std::move(d));
      ok = false;
    }
    protos = icmp_protos;
  }
  if (!ok) return;

  if (!has_services) legs.push_back({0, {}});
  emitted_ = 0;
  bool addressed = src_given || dst_given;
  for (const Leg& leg : legs) {
    Dim<std::uint8_t>& lp = leg_protos_;
    Dim<std::uint16_t>& ld = leg_dport_;
    lp.assign(protos);
    ld.assign(dport);
    if (has_services) {
      lp.restrict_to(one(leg.protocol));
      if (!leg.ports.empty()) ld.restrict_to(leg.ports);
      if (!leg.ports.empty() && (!sport.any)) lp.restrict_to(kPortProtocols);
    }
    if (lp.empty() || ld.empty()) continue;
    if (!addressed && icmp_clauses.empty() && families.any) {  // one IR rule for both families
      bool mixed_icmp = false;
      for (const auto& r : lp.set)
        if ((r.lo <= 1 && 1 <= r.hi) || (r.lo <= 58 && 58 <= r.hi)) mixed_icmp = true;
      if (!mixed_icmp) {
        emit(s, source_rule, std::nullopt, lp, ld, nullptr, nullptr, {});
        continue;
      }
    }
    for (int f = 0; f < 2; ++f) {
      bool v6 = f == 1;
      if (!families.allows(static_cast<std::uint8_t>(f))) continue;
      const ir::FieldSet<ir::U128>* fs = src_given ? (v6 ? &src.v6 : &src.v4) : nullptr;
      const ir::FieldSet<ir::U128>* fd = dst_given ? (v6 ? &dst.v6 : &dst.v4) : nullptr;
      if ((fs && fs->empty()) || (fd && fd->empty())) continue;
      Dim<std::uint8_t>& fp = family_protos_;
      fp.assign(lp);
      if (!fp.any) {  // ICMP belongs to IPv4, ICMPv6 to IPv6
        fp.remove(v6 ? ir::proto::icmp : ir::proto::icmpv6);
        if (fp.empty()) continue;
      }
      Dim<std::uint8_t> icmp;
      bool icmp_ok = true;
      for (const Clause* c : icmp_clauses) {
        ir::FieldSet<std::uint8_t> types;
        icmp_ok = names_.icmp_types(s, p_.values_of(*c), v6, types) && icmp_ok;
        icmp.restrict_to(types);
      }
      if (!icmp_ok) return;
      if (icmp.empty()) continue;
      emit(s, source_rule, static_cast<ir::Family>(f), fp, ld, fs, fd, icmp);
    }
  }
  if (emitted_ > 0) return;
  bool v4_only = (src_given && src.v6.empty()) || (dst_given && dst.v6.empty());
  bool v6_only = (src_given && src.v4.empty()) || (dst_given && dst.v4.empty());
  if (addressed && (v4_only && v6_only)) {
    diag::Diagnostic d{Severity::Error, "RC206",
                       "this rule mixes IPv4 and IPv6 addresses, so no packet can match it", p_.loc(s)};
    d.hint = "split it into one rule for IPv4 and one for IPv6";
    sink_.add(std::move(d));
  } else if (keep_) {
    out_.empty_source_rules.push_back(source_rule);
  }
}

void RuleLowering::emit(const Statement& s, std::uint32_t source_rule, std::optional<ir::Family> fam,
                        const Dim<std::uint8_t>& protos, const Dim<std::uint16_t>& dport,
                        const ir::FieldSet<ir::U128>* src, const ir::FieldSet<ir::U128>* dst,
                        const Dim<std::uint8_t>& icmp) {
  ++emitted_;
  if (!keep_) return;
  // The lines of a rule a few places on are asked for now, for writing:
  // fresh memory is not in the cache, and a rule is four lines.
  if (const std::size_t ahead = out_.rules.size() + kWriteAhead; ahead < out_.rules.capacity()) {
    const char* at = reinterpret_cast<const char*>(out_.rules.data() + ahead);
    for (std::size_t line = 0; line < sizeof(ir::Rule); line += 64) __builtin_prefetch(at + line, 1);
  }
  ir::Rule& r = out_.rules.emplace_back();  // built in place: no copy of a rule
  r.action = static_cast<ir::Action>(s.action);
  r.state = s.options & ast::OptState;
  r.done = s.options & ast::OptDone;
  r.log = s.options & ast::OptLog;
  r.line = line_;
  r.column = column_;
  if (s.options & ast::OptLabel) r.label_id = label(s.label);
  ir::Match& m = r.match;
  if (s.direction != ast::Direction::Both) {
    std::uint8_t d = s.direction == ast::Direction::In ? 0 : 1;
    m.directions.push_back({d, d});
  }
  if (s.iface) {
    std::uint32_t i = interface(s.iface);
    m.interfaces.push_back({i, i});
  }
  if (fam) m.families.push_back({static_cast<std::uint8_t>(*fam), static_cast<std::uint8_t>(*fam)});
  if (!protos.any) m.protocols = protos.set;
  if (src) m.src = *src;
  if (dst) m.dst = *dst;
  if (!sport_.any) m.sport = sport_.set;
  if (!dport.any) m.dport = dport.set;
  if (!icmp.any) m.icmp_types = icmp.set;
  r.origin = p_.loc(s);
  r.source_rule = source_rule;
}

std::optional<std::uint16_t> single_port(const ast::Value& v) {
  if (v.kind == ast::Value::Kind::Number && v.lo <= 65535) return static_cast<std::uint16_t>(v.lo);
  return std::nullopt;
}

/// The second half of a large policy's rules, lowered on a thread of its
/// own with its own name tables, IR and diagnostics; merge() joins them to
/// what the first thread made, as one thread would have made them.
class SecondHalf {
 public:
  /// `into`: the first thread's rules, reserved for both halves; this half's
  /// rules are moved there by merge().
  /// `mapper`: maps this half's IR and its destination ahead (may be null).
  SecondHalf(const ast::Policy& p, std::size_t first_statement, bool keep, const diag::SourceMap* sources,
             const std::vector<ir::Rule>& into, support::PageMapper* mapper)
      : p_(p), first_statement_(first_statement), keep_(keep), sources_(sources), into_(into.data()),
        into_capacity_(into.capacity()), mapper_(mapper) {}

  void run() {
    try {
      std::uint32_t source_rule = 0;  // the rules before this half, counted here rather than by the first thread
      for (std::size_t i = 0; i < first_statement_; ++i) source_rule += p_.statements[i].kind == Statement::Kind::Rule;
      const std::uint32_t rules_before = source_rule;
      Names names(p_, sink_);
      sink_.all().clear();  // duplicate names: the first thread's tables report them
      RuleLowering rules(p_, names, sink_, out_, keep_, sources_);
      if (keep_) out_.rules.reserve((p_.statements.size() - first_statement_) * 5 / 4);
      support::MapAhead<ir::Rule> ahead(kMapWindow);
      for (std::size_t i = first_statement_; i < p_.statements.size(); ++i) {
        if (mapper_ && (i - first_statement_) % 1024 == 0) {
          ahead.keep_up(*mapper_, out_.rules);
          if ((i - first_statement_) % 8192 == 0) map_destination(rules_before, source_rule - rules_before);
        }
        if (p_.statements[i].kind == Statement::Kind::Rule) rules.lower(p_.statements[i], source_rule++);
      }
      map_destination(rules_before, source_rule - rules_before);
      names.report_unused();  // into unused_: which names this half never used
      std::vector<diag::Diagnostic> all = std::move(sink_.all());
      sink_.all().clear();
      for (diag::Diagnostic& d : all) (d.code == "RC202" ? unused_ : sink_).add(std::move(d));
    } catch (...) {
      failed_ = std::current_exception();
    }
  }

  /// Appends this half to `out` and `sink`; `unused` holds the first half's
  /// RC202 findings, of which only those this half shares are names no rule uses.
  void merge(ir::Policy& out, diag::Sink& sink, diag::Sink& unused) {
    if (failed_) std::rethrow_exception(failed_);
    std::vector<std::uint32_t> index;  // this half's interface indices in `out`
    for (const std::string& name : out_.interfaces) {
      auto at = std::find(out.interfaces.begin(), out.interfaces.end(), name);
      if (at == out.interfaces.end()) at = out.interfaces.insert(at, name);
      index.push_back(static_cast<std::uint32_t>(at - out.interfaces.begin()));
    }
    out.labels.reserve(out.labels.size() + out_.labels.size());  // no reallocation: `known` has views of them
    std::unordered_map<std::string_view, std::uint32_t> known;  // out's labels by text
    for (std::size_t k = 0; k < out.labels.size(); ++k) known.emplace(out.labels[k], k + 1);
    std::vector<std::uint32_t> label_ids{0};  // this half's label numbers in `out`
    for (std::string& text : out_.labels) {
      if (auto it = known.find(text); it != known.end()) {
        label_ids.push_back(it->second);
        continue;
      }
      out.labels.push_back(std::move(text));
      label_ids.push_back(static_cast<std::uint32_t>(out.labels.size()));
      known.emplace(out.labels.back(), label_ids.back());
    }
    for (ir::Rule& r : out_.rules) {
      if (!r.match.interfaces.empty()) {  // lowering names one interface
        std::uint32_t i = index[r.match.interfaces[0].lo];
        r.match.interfaces = {{i, i}};
      }
      r.label_id = label_ids[r.label_id];
      out.rules.push_back(std::move(r));
    }
    out.empty_source_rules.insert(out.empty_source_rules.end(), out_.empty_source_rules.begin(),
                                  out_.empty_source_rules.end());
    for (diag::Diagnostic& d : sink_.all()) sink.add(std::move(d));
    for (diag::Diagnostic& d : unused.all()) {
      bool here_too = std::any_of(unused_.all().begin(), unused_.all().end(), [&](const diag::Diagnostic& e) {
        return e.loc == d.loc && e.message == d.message;
      });
      if (here_too) sink.add(std::move(d));
    }
  }

 private:
  /// Maps the pages merge() will move this half's rules to, as far as this
  /// half has come: behind the first half's rules, whose number is estimated
  /// from this half's (as many IR rules a source rule), give or take 4%. A
  /// wrong guess costs page faults in merge() or a few pages mapped and not
  /// used, never a wrong result.
  void map_destination(std::uint32_t rules_before, std::uint32_t rules_here) {
    if (!keep_ || !mapper_ || !into_ || rules_here == 0) return;
    const double first = static_cast<double>(out_.rules.size()) / rules_here * rules_before;
    auto from = std::max(mapped_, static_cast<std::size_t>(first * 0.96));
    auto to = std::min(into_capacity_, static_cast<std::size_t>(first * 1.04) + out_.rules.size());
    if (from >= to) return;
    mapper_->map(into_ + from, into_ + to);
    mapped_ = to;
  }

  const ast::Policy& p_;
  std::size_t first_statement_;
  bool keep_;
  const diag::SourceMap* sources_;
  const ir::Rule* into_;
  std::size_t into_capacity_;
  support::PageMapper* mapper_;
  std::size_t mapped_ = 0;  ///< into_ is mapped up to here
  ir::Policy out_;
  diag::Sink sink_, unused_;
  std::exception_ptr failed_;
};

}  // namespace

ir::Policy lower(const ast::Policy& p, diag::Sink& sink, const LowerOptions& options) {
  ir::Policy out;
  Names names(p, sink);
  RuleLowering rules(p, names, sink, out, options.keep_rules, options.sources);
  std::array<const Statement*, 2> defaults{};
  std::uint32_t source_rule = 0;
  // Room by the number of statements, nearly all rules in a large policy:
  // reserved and not written is free, and counting the rules would read a
  // million statements once more. Most rules lower to one IR rule: no
  // regrowth of a million-rule vector.
  const std::size_t most = p.statements.size();
  if (options.keep_rules) {
    out.rules.reserve(most + most / 4);
    out.source_rules.reserve(most);
  }
  // A large policy: the rules from statement `split` on (half the
  // statements, nearly all of them rules) go to a second thread.
  std::size_t split = p.statements.size();
  // A large policy's IR is mapped ahead of its end by another thread.
  std::optional<support::PageMapper> mapper;
  if (options.keep_rules && most >= kMapFrom) mapper.emplace();
  std::optional<SecondHalf> second;
  std::thread thread;
  struct JoinOnExit {
    std::thread& t;
    ~JoinOnExit() {
      if (t.joinable()) t.join();
    }
  } join_on_exit{thread};
  if (most >= options.two_threads_from && most >= 2) {
    split = most / 2;
    second.emplace(p, split, options.keep_rules, options.sources, out.rules, mapper ? &*mapper : nullptr);
    thread = std::thread([&] { second->run(); });
  }
  diag::Sink first_unused;  // RC202 of the first half, when there are two
  support::MapAhead<ir::Rule> rules_ahead(kMapWindow);
  support::MapAhead<diag::Location> sources_ahead(kMapWindow);
  for (std::size_t at = 0; at < p.statements.size(); ++at) {
    const Statement& s = p.statements[at];
    if (mapper && at % 1024 == 0) {
      rules_ahead.keep_up(*mapper, out.rules);
      sources_ahead.keep_up(*mapper, out.source_rules);
    }
    switch (s.kind) {
      case Statement::Kind::Rule:
        if (options.keep_rules) out.source_rules.push_back(p.loc(s));
        if (at < split) rules.lower(s, source_rule);
        ++source_rule;
        break;
      case Statement::Kind::Default:
        for (int d = 0; d < 2; ++d) {
          if (s.direction != ast::Direction::Both && static_cast<int>(s.direction) - 1 != d) continue;
          if (defaults[d] && defaults[d]->direction == s.direction) {
            diag::Diagnostic diag{Severity::Warning, "RC213",
                                  fmt::format("a second default for {} packets; this one counts",
                                              d == 0 ? "inbound" : "outbound"),
                                  p.loc(s)};
            diag.notes.push_back({p.loc(*defaults[d]), "the earlier default"});
            sink.add(std::move(diag));
          }
          defaults[d] = &s;
          out.defaults[d] = {static_cast<ir::Action>(s.action), true, p.loc(s)};
        }
        break;
      case Statement::Kind::Require: {
        const ast::Requirement& r = p.requirements[s.extra];
        ir::Requirement q;
        q.vpn = p.str(s.name);
        q.role = p.str(r.role);
        q.via_in = p.str(r.via_in);
        q.via_out = p.str(r.via_out);
        q.on = p.str(r.on);
        if (r.peer_value != UINT32_MAX) q.peer = ast::address_text(p, p.values[r.peer_value]);
        if (r.port_value != UINT32_MAX) {
          const ast::Value& v = p.values[r.port_value];
          if (auto port = single_port(v)) {
            q.port = *port;
          } else {
            sink.add({Severity::Error, "RC204", fmt::format("port {} is outside 0-65535", v.lo), p.loc(s, v)});
          }
        }
        if (!q.via_in.empty() && !q.on.empty())
          sink.add({Severity::Error, "RC216", "'via' and 'on' cannot be combined: via names both interfaces",
                    p.loc(s)});
        q.origin = p.loc(s);
        out.requirements.push_back(std::move(q));
        break;
      }
      case Statement::Kind::Vpn: {
        std::vector<Leg> legs;
        names.legs(s, legs);
        ir::VpnDefinition v{p.str(s.name), {}, p.loc(s)};
        for (const Leg& l : legs) {
          if (l.ports.empty()) {
            v.legs.push_back({l.protocol, std::nullopt, p.loc(s)});
            continue;
          }
          for (const auto& r : l.ports)
            for (unsigned port = r.lo; port <= r.hi && port - r.lo < 16; ++port)
              v.legs.push_back({l.protocol, static_cast<std::uint16_t>(port), p.loc(s)});
        }
        out.vpns.push_back(std::move(v));
        break;
      }
      default:
        break;
    }
  }
  if (second) {
    diag::Sink mine;
    std::swap(mine.all(), sink.all());  // report_unused() adds to the shared sink: take its RC202 apart
    names.report_unused();
    std::swap(mine.all(), sink.all());
    for (diag::Diagnostic& d : mine.all()) first_unused.add(std::move(d));
    thread.join();
    second->merge(out, sink, first_unused);
  } else {
    names.report_unused();
  }
  for (int d = 0; d < 2; ++d) {
    if (defaults[d]) continue;
    const char* dir = d == 0 ? "inbound" : "outbound";
    diag::Diagnostic diag{Severity::Warning, "RC209",
                          fmt::format("no default for {} packets: what no rule matches is passed", dir),
                          {0, 0, 0}};  // the root file's first line
    diag.hint = fmt::format("add 'default block {}' (or 'default block' for both directions)", d == 0 ? "in" : "out");
    sink.add(std::move(diag));
  }
  return out;
}

}  // namespace rulec::semantics
