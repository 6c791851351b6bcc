// What every benchmark measures besides time: the process's peak memory.
#pragma once

#include <sys/resource.h>

namespace rulec::bench {

/// Peak resident memory of this process so far, in KiB (getrusage's ru_maxrss).
inline long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

/// The same in MiB.
inline double peak_rss_mb() { return static_cast<double>(peak_rss_kb()) / 1024.0; }

}  // namespace rulec::bench
