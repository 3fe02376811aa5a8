#pragma once
/// @file
/// Atomic file writes shared by the text writers (CSV, COO): the content goes to a temporary
/// file beside the target, which is then renamed over it, so readers see the old file or the
/// whole new one, never a half-written one.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <system_error>

#include "recmix/core/errors.hpp"

namespace recmix::io::detail {

/// Calls write(out) on a temporary file beside `path`, then renames it over `path`. On any
/// failure the temporary is removed, `path` is left as it was, and recmix::io_error naming `api`
/// and the path is thrown (an io_error from `write` is reported as a failed write; other
/// exceptions pass through after the cleanup).
template <class Write>
void write_atomically(const std::filesystem::path& path, const char* api, Write&& write) {
  static std::atomic<unsigned> counter{0};
  const auto stamp = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(stamp % 1000000007ULL) + "-" + std::to_string(counter.fetch_add(1));
  const std::string who(api);
  auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
  };
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out.is_open()) {
      const int err = errno;
      throw io_error(who + ": cannot create a temporary file beside '" + path.string() + "'" +
                     (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
    }
    try {
      write(static_cast<std::ostream&>(out));
    } catch (const io_error&) {
      out.close();
      discard();
      throw io_error(who + ": writing '" + tmp.string() + "' (for '" + path.string() + "') failed");
    } catch (...) {
      out.close();
      discard();
      throw;
    }
    out.close();
    if (!out) {
      discard();
      throw io_error(who + ": closing '" + tmp.string() + "' (for '" + path.string() + "') failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    discard();
    throw io_error(who + ": cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
  }
}

}  // namespace recmix::io::detail
