// Two threads for one job: lint's passes share their work this way, and
// the Linux backends write two chains at once (linux_fw::run_both).
#pragma once

#include <exception>
#include <thread>

namespace rulec::analysis {

/// Runs `beside` on a second thread while `here` runs on this one, and
/// returns when both have ended. An exception from either is thrown again
/// here (the one from `here` first); when `here` throws, `stop()` is
/// called before waiting, so that `beside` can end early.
template <typename Beside, typename Here, typename Stop>
void side_by_side(Beside beside, Here here, Stop stop) {
  std::exception_ptr failed;
  std::thread other([&] {
    try {
      beside();
    } catch (...) {
      failed = std::current_exception();
    }
  });
  try {
    here();
  } catch (...) {
    stop();
    other.join();
    throw;
  }
  other.join();
  if (failed) std::rethrow_exception(failed);
}

template <typename Beside, typename Here>
void side_by_side(Beside beside, Here here) {
  side_by_side(beside, here, [] {});
}

}  // namespace rulec::analysis
