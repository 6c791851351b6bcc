// The CLI's table of subcommands and the helpers they share.
//
// Each subcommand is one file in cli/ that registers itself with a
// Registrar: its name, a one-line summary, and a setup function that adds
// its options to a CLI11 subcommand and returns the function to run.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "diag/diagnostic.hpp"
#include "frontend.hpp"

namespace rulec::cli {

/// Exit statuses shared by every subcommand.
enum Exit { kClean = 0, kFindings = 1, kBadInput = 2 };

using Run = std::function<int()>;
using Setup = std::function<Run(CLI::App& sub)>;

struct CommandSpec {
  std::string name;
  std::string summary;
  Setup setup;
};

/// Every registered subcommand.
std::vector<CommandSpec>& commands();

struct Registrar {
  Registrar(std::string name, std::string summary, Setup setup) {
    commands().push_back({std::move(name), std::move(summary), std::move(setup)});
  }
};

/// Parses a --format value.
diag::Format parse_format(const std::string& s);

/// Prints diagnostics to stderr (text) or stdout (json, sarif).
void print_diagnostics(const std::vector<diag::Diagnostic>& diags, const diag::SourceMap& sources,
                       diag::Format fmt);

/// Writes `content` to `path` atomically: a temporary file in the same
/// directory, fsync, rename. On failure the old file is untouched and
/// `error` says why.
bool write_atomically(const std::string& path, const std::string& content, std::string& error);
/// The same for a text in parts (a backend's Output), written in order.
bool write_atomically(const std::string& path, std::span<const std::string> parts, std::string& error);

/// Writes all of `content` to stdout; false on a write error (a full disk, a closed pipe).
bool write_stdout(const std::string& content);
/// The same for a text in parts, written in order.
bool write_stdout(std::span<const std::string> parts);

}  // namespace rulec::cli
