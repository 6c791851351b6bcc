// Helpers shared by the subcommands.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "command.hpp"

namespace rulec::cli {

std::vector<CommandSpec>& commands() {
  static std::vector<CommandSpec> all;
  return all;
}

diag::Format parse_format(const std::string& s) {
  if (s == "json") return diag::Format::Json;
  if (s == "sarif") return diag::Format::Sarif;
  return diag::Format::Text;
}

void print_diagnostics(const std::vector<diag::Diagnostic>& diags, const diag::SourceMap& sources,
                       diag::Format fmt) {
  std::string text = diag::render(diags, sources, fmt);
  if (fmt == diag::Format::Text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
  } else {
    write_stdout(text);
  }
}

namespace {

bool write_all(int fd, std::span<const std::string> parts) {
  for (const std::string& content : parts) {
    std::size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
  }
  return true;
}

}  // namespace

bool write_stdout(const std::string& content) { return write_stdout(std::span<const std::string>(&content, 1)); }

bool write_stdout(std::span<const std::string> parts) {
  std::fflush(stdout);
  return write_all(1, parts);
}

bool write_atomically(const std::string& path, const std::string& content, std::string& error) {
  return write_atomically(path, std::span<const std::string>(&content, 1), error);
}

bool write_atomically(const std::string& path, std::span<const std::string> parts, std::string& error) {
  std::filesystem::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::string tmpl = dir + "/." + target.filename().string() + ".rulec-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) {
    error = std::string("cannot create a temporary file in '") + dir + "': " + std::strerror(errno);
    return false;
  }
  bool ok = write_all(fd, parts);
  int saved = errno;
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    saved = errno;
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok) {
    // A new file gets 0644 (mkstemp made it 0600); a replaced one keeps its mode,
    // so a firewall config written 0600 stays private.
    struct stat old {};
    mode_t mode = ::stat(path.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644;
    std::error_code ec;
    std::filesystem::permissions(name.data(), std::filesystem::perms(mode), ec);
    if (::rename(name.data(), path.c_str()) != 0) {
      ok = false;
      saved = errno;
    }
  }
  if (!ok) {
    ::unlink(name.data());
    error = std::string("cannot write '") + path + "': " + std::strerror(saved);
  }
  return ok;
}

}  // namespace rulec::cli
