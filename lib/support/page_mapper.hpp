// Memory pages mapped ahead of the code that writes them, by a helper thread.
//
// The first write to each fresh 4 KB page of a large array costs a page
// fault: the kernel finds a page, clears it, charges it and maps it. A
// million-rule policy writes about half a gigabyte of fresh memory in the
// front end (the syntax tree, then the IR), and on the 2-vCPU development VM
// each megabyte costs about 0.4 ms that way: a third of the front end's time.
// A PageMapper has a thread of its own map the pages shortly before they are
// written (Linux's MADV_POPULATE_WRITE does what a write would do, without
// writing), so the thread doing the work finds them mapped, and the kernel's
// part runs on the other CPU.
//
// Mapping changes no byte, so it is safe while other threads write the same
// memory, and even after the memory was freed (the vector grew past its
// reserve): at worst some pages are mapped that nobody writes. MapAhead keeps
// that to a window ahead of an array's end, never past its capacity.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace rulec::support {

class PageMapper {
 public:
  /// Starts the helper thread, when this system can map pages ahead (Linux
  /// 5.14 and later) and a thread can be started; otherwise map() does nothing.
  PageMapper();
  /// Drops what is still queued and stops the thread.
  ~PageMapper();
  PageMapper(const PageMapper&) = delete;
  PageMapper& operator=(const PageMapper&) = delete;

  /// Queues the whole pages inside [begin, end) to be mapped.
  void map(const void* begin, const void* end);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

/// Maps the whole pages inside [begin, end) now, on this thread: a third
/// cheaper on the development VM than the page faults that writing them
/// would take, and one call instead of a fault a page, so that threads
/// writing fresh memory at once do not contend for the kernel's locks page
/// by page. Does nothing where pages cannot be mapped ahead.
void map_now(const void* begin, const void* end);

/// Keeps the pages of one growing array (a std::vector or std::string with
/// room reserved) mapped a window ahead of its end, never past its
/// capacity: call keep_up() now and then as it grows, to have a PageMapper
/// thread map them, or keep_up_now() to map them on this thread (map_now()).
template <typename T>
class MapAhead {
 public:
  explicit MapAhead(std::size_t window_bytes) : window_(std::max<std::size_t>(1, window_bytes / sizeof(T))) {}

  template <typename Array>
  void keep_up(PageMapper& mapper, const Array& a) {
    keep_up(a, a.size(), [&mapper](const T* from, const T* to) { mapper.map(from, to); });
  }
  /// `end`: where the text ends, for a writer that makes its array longer
  /// ahead of what it writes (else a.size()).
  template <typename Array>
  void keep_up_now(const Array& a, std::size_t end) {
    keep_up(a, end, [](const T* from, const T* to) { map_now(from, to); });
  }

 private:
  template <typename Array, typename Map>
  void keep_up(const Array& a, std::size_t end, Map map) {
    if (a.data() != base_) {  // new storage (or the first call): what it holds was written, so mapped
      base_ = a.data();
      mapped_ = a.size();
    }
    if (mapped_ >= end + window_ / 2) return;  // still well ahead
    const std::size_t from = std::max(mapped_, a.size());
    const std::size_t to = std::min(a.capacity(), end + window_);
    if (from >= to) return;
    map(base_ + from, base_ + to);
    mapped_ = to;
  }

  std::size_t window_;
  const T* base_ = nullptr;
  std::size_t mapped_ = 0;  ///< elements [0, mapped_) of base_ are mapped or asked for
};

}  // namespace rulec::support
