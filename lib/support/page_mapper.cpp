// The helper thread of PageMapper: madvise(MADV_POPULATE_WRITE) on each queued range.
#include "support/page_mapper.hpp"

#include <system_error>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace rulec::support {

namespace {

#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack the name
#endif

std::uintptr_t page_size() {
  static const auto size = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  return size;
}

/// True when the kernel knows MADV_POPULATE_WRITE (asked once, on an empty range).
bool can_map_ahead() {
  static const bool can = [] {
    void* page = mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return false;
    bool ok = madvise(page, page_size(), MADV_POPULATE_WRITE) == 0;
    munmap(page, page_size());
    return ok;
  }();
  return can;
}

/// The whole pages inside [begin, end), as [lo, hi) (lo >= hi: none).
std::pair<std::uintptr_t, std::uintptr_t> whole_pages(const void* begin, const void* end) {
  const std::uintptr_t page = page_size();
  return {(reinterpret_cast<std::uintptr_t>(begin) + page - 1) & ~(page - 1),
          reinterpret_cast<std::uintptr_t>(end) & ~(page - 1)};
}
#endif

}  // namespace

PageMapper::PageMapper() {
#if defined(__linux__)
  if (!can_map_ahead()) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    // No thread to be had (a process limit): pages are mapped as they are written.
  }
#endif
}

PageMapper::~PageMapper() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void PageMapper::map(const void* begin, const void* end) {
#if defined(__linux__)
  if (!thread_.joinable()) return;
  const auto [lo, hi] = whole_pages(begin, end);
  if (lo >= hi) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(lo, hi);
  }
  wake_.notify_one();
#else
  (void)begin, (void)end;
#endif
}

void map_now(const void* begin, const void* end) {
#if defined(__linux__)
  if (!can_map_ahead()) return;
  const auto [lo, hi] = whole_pages(begin, end);
  if (lo < hi) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#else
  (void)begin, (void)end;
#endif
}

void PageMapper::run() {
#if defined(__linux__)
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> work;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      work.swap(queue_);
    }
    // A failure (memory freed meanwhile, a signal) leaves pages unmapped:
    // they are mapped when written, as without a PageMapper.
    for (auto [lo, hi] : work) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
    work.clear();
  }
#endif
}

}  // namespace rulec::support
