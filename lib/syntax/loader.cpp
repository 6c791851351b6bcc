// Reading files and following includes.
//
// Each file is read once (a second include of the same file is a warning and
// adds nothing), an include of a file that is still being read is a cycle,
// and the statements are put in reading order by walking the include tree
// with an explicit stack, so ten thousand nested includes cannot overflow it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "support/page_mapper.hpp"
#include "syntax/parser.hpp"

namespace rulec::syntax {

bool read_regular_file(const std::string& path, std::string& out, std::string& error, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory";
  } else if (!S_ISREG(st.st_mode)) {
    error = "is not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    error = "is larger than " + std::to_string(max_bytes >> 20) + " MiB";
  }
  if (!error.empty()) {
    ::close(fd);
    return false;
  }
  // A piece at a time, appended: resizing the text first would write zeros
  // over all of it before read() writes it again (67 MB at a million rules).
  out.clear();
  out.reserve(static_cast<std::size_t>(st.st_size));
  if (out.capacity() >= (std::size_t{1} << 20)) support::map_now(out.data(), out.data() + out.capacity());
  std::string piece(std::min<std::size_t>(std::size_t{1} << 20, max_bytes), '\0');
  while (out.size() < max_bytes) {  // to the end, also of a file that grew while it was read
    ssize_t n = ::read(fd, piece.data(), std::min(piece.size(), max_bytes - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(piece.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

namespace {

/// Reads standard input whole (bounded like a file).
bool read_stdin(std::string& out, std::string& error, std::size_t max_bytes = std::size_t(1) << 30) {
  out.clear();
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      error = "is larger than " + std::to_string(max_bytes >> 20) + " MiB";
      return false;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::string directory_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string() : parent.string();
}

std::string canonical_key(const std::string& path) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

struct FileRecord {
  std::uint32_t first = 0, last = 0;  ///< its statements in parse order
  std::string dir;
  std::string key;
};

class Loader {
 public:
  Loader(ast::Policy& p, diag::SourceMap& s, diag::Sink& k) : policy_(p), sources_(s), sink_(k) {}

  bool run(Input input) {
    std::string text, error;
    if (input.from_file) {
      if (!read_regular_file(input.name, text, error)) {
        diag::Diagnostic d{diag::Severity::Error, "RC001", "cannot read '" + input.name + "': " + error, {}};
        d.has_loc = false;
        sink_.add(std::move(d));
        return false;
      }
    } else {
      text = std::move(input.text);
    }
    std::string dir = input.from_file ? directory_of(input.name) : input.base_dir;
    std::string key = input.from_file ? canonical_key(input.name) : std::string("\n<text>");
    add_file(input.name, std::move(text), dir, key);
    order();
    return true;
  }

 private:
  std::uint32_t add_file(const std::string& name, std::string text, const std::string& dir, const std::string& key) {
    std::uint32_t id = sources_.add(name, std::move(text));
    FileRecord rec;
    rec.first = static_cast<std::uint32_t>(policy_.statements.size());
    parse_text(policy_, sources_, id, sink_);
    rec.last = static_cast<std::uint32_t>(policy_.statements.size());
    rec.dir = dir;
    rec.key = key;
    if (files_.size() <= id) files_.resize(id + 1);
    files_[id] = rec;
    by_key_.emplace(key, id);
    return id;
  }

  /// Puts statements in reading order, reading included files as they are
  /// reached. An explicit stack of (file, next statement) frames.
  void order() {
    if (policy_.includes == 0) return;  // one file: already in reading order
    std::vector<ast::Statement> ordered;
    ordered.reserve(policy_.statements.size());
    struct Frame {
      std::uint32_t file, next;
    };
    std::vector<Frame> stack{{0, files_[0].first}};
    std::vector<bool> open(files_.size(), false);
    open[0] = true;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == files_[f.file].last) {
        open[f.file] = false;
        stack.pop_back();
        continue;
      }
      ast::Statement s = policy_.statements[f.next++];
      if (s.kind == ast::Statement::Kind::Include) s.extra = follow(s, f.file, open);
      ordered.push_back(s);
      if (s.kind == ast::Statement::Kind::Include && s.extra != UINT32_MAX) {
        // follow() returns only files read for the first time
        open.resize(files_.size(), false);
        open[s.extra] = true;
        stack.push_back({s.extra, files_[s.extra].first});
      }
    }
    policy_.statements = std::move(ordered);
    policy_.definitions.clear();  // where they are now
    for (std::uint32_t i = 0; i < policy_.statements.size(); ++i)
      if (policy_.statements[i].is_definition()) policy_.definitions.push_back(i);
  }

  /// Reads the file an include names; returns its id, or UINT32_MAX after a diagnostic.
  std::uint32_t follow(const ast::Statement& s, std::uint32_t from, const std::vector<bool>& open) {
    const std::string& rel = policy_.str(s.name);
    diag::Location at{s.file, s.name_begin, static_cast<std::uint32_t>(s.name_begin + rel.size() + 2)};
    std::filesystem::path p(rel);
    std::string path = p.is_absolute() || files_[from].dir.empty() ? rel : (files_[from].dir + "/" + rel);
    std::string key = canonical_key(path);
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      std::uint32_t id = it->second;
      if (id < open.size() && open[id]) {
        sink_.add({diag::Severity::Error, "RC103",
                   "include cycle: '" + rel + "' is already being read (it includes this file, directly or not)",
                   at});
        return UINT32_MAX;
      }
      diag::Diagnostic d{diag::Severity::Warning, "RC104",
                         "'" + rel + "' is already included; including it again adds nothing", at};
      sink_.add(std::move(d));
      return UINT32_MAX;
    }
    std::string text, error;
    if (!read_regular_file(path, text, error)) {
      diag::Diagnostic d{diag::Severity::Error, "RC102", "cannot include '" + rel + "': " + error, at};
      d.hint = "include paths are relative to the including file";
      sink_.add(std::move(d));
      return UINT32_MAX;
    }
    return add_file(path, std::move(text), directory_of(path), key);
  }

  ast::Policy& policy_;
  diag::SourceMap& sources_;
  diag::Sink& sink_;
  std::vector<FileRecord> files_;
  std::map<std::string, std::uint32_t> by_key_;
};

}  // namespace

bool names_stdin(const std::string& name) { return name == "-" || name == "/dev/stdin" || name == "/dev/fd/0"; }

bool load_policy(Input in, ast::Policy& policy, diag::SourceMap& sources, diag::Sink& sink) {
  if (in.from_file && names_stdin(in.name)) {
    std::string error;
    if (!read_stdin(in.text, error)) {
      diag::Diagnostic d{diag::Severity::Error, "RC001", "cannot read standard input: " + error, {}};
      d.has_loc = false;
      sink.add(std::move(d));
      return false;
    }
    in.from_file = false;
    in.name = "<stdin>";
  }
  return Loader(policy, sources, sink).run(std::move(in));
}

}  // namespace rulec::syntax
