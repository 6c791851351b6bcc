// The backend interface: one target a file, registered in one table.
//
// A backend turns the IR into one firewall's configuration text. The driver
// (compile()) checks a backend's capabilities centrally before emitting, so
// a policy feature a target cannot express is an error naming the rule and
// the target (RC501), never silently dropped. Backends add target-specific
// diagnostics (RC5xx) to the sink themselves.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "diag/diagnostic.hpp"
#include "ir/ir.hpp"

namespace rulec::backends {

/// What a target can express. The driver refuses a rule that needs more.
struct Capabilities {
  bool reject = true;      ///< `reject`
  bool log = true;         ///< `>> log`
  bool label = true;       ///< `>> label`
  bool interfaces = true;  ///< `on IFACE`
  bool ipv6 = true;
  bool icmp_types = true;
  bool stateless = true;   ///< a pass rule without `state`
};

struct EmitOptions {
  bool strict = false;  ///< refuse where the output would only approximate the policy
  const diag::SourceMap* sources = nullptr;  ///< for source comments (file:line)
};

/// A configuration text in parts, in order. A backend that writes parts
/// apart (a chain at a time, or on two threads) hands them over as they
/// are, and whoever writes the text out takes them in order: at a million
/// rules, joining them would copy hundreds of megabytes once more.
class Output {
 public:
  /// Appends `part` (moved, not copied).
  void add(std::string part) {
    size_ += part.size();
    if (!part.empty()) parts_.push_back(std::move(part));
  }
  const std::vector<std::string>& parts() const { return parts_; }
  /// Bytes in all parts.
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    parts_.clear();
    size_ = 0;
  }
  /// The whole text: the parts joined (the one part moved, when there is one).
  std::string text() &&;

 private:
  std::vector<std::string> parts_;
  std::size_t size_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Capabilities capabilities() const { return {}; }
  /// Writes the configuration to `out` (empty). Returns false after adding an error to `sink`.
  virtual bool emit(const ir::Policy& policy, const EmitOptions& options, Output& out, diag::Sink& sink) const = 0;
};

struct BackendEntry {
  const char* name;     ///< `--target` value
  const char* summary;  ///< one line for `rulec targets`
  std::unique_ptr<Backend> (*make)();
};

/// The features a target with these capabilities cannot express, in the
/// words diagnostics use ("reject", "on IFACE", ...); for `rulec targets`.
std::vector<std::string> missing_features(const Capabilities& caps);

/// Every registered target, in the table's order.
std::span<const BackendEntry> registry();
const BackendEntry* find(std::string_view name);

/// Checks capabilities, then emits. Returns false (with diagnostics) when
/// the policy cannot be compiled for this target; `out` is then empty.
bool compile(const BackendEntry& target, const ir::Policy& policy, const EmitOptions& options, Output& out,
             diag::Sink& sink);
/// The same, the text in one string.
bool compile(const BackendEntry& target, const ir::Policy& policy, const EmitOptions& options, std::string& out,
             diag::Sink& sink);

}  // namespace rulec::backends
