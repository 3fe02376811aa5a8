#pragma once
/// @file
/// Atomic file writes shared by the text writers (CSV, COO): the content goes to a temporary
/// file beside the target, which is then renamed over it, so readers see the old file or the
/// whole new one, never a half-written one.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <system_error>

#if defined(_WIN32)
#include <process.h>
#else
#include <unistd.h>
#endif

#include "recmix/core/errors.hpp"

namespace recmix::io::detail {

/// The id of the calling process (asked on every call, so a forked child has its own).
inline std::uint64_t process_id() noexcept {
#if defined(_WIN32)
  return static_cast<std::uint64_t>(::_getpid());
#else
  return static_cast<std::uint64_t>(::getpid());
#endif
}

/// A name for a temporary file beside `path`: `path.tmp-<pid>-<token>-<n>`. The process id keeps
/// concurrent processes of one machine apart (a forked child included: it inherits the token and
/// the counter but not the id), a random token drawn once per process keeps machines sharing a
/// directory apart, and a counter keeps the calls of one process (and its threads) apart.
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static const std::uint64_t token = [] {
    std::uint64_t t = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    try {
      std::random_device device;
      t ^= (static_cast<std::uint64_t>(device()) << 32) ^ device();
    } catch (...) {  // no entropy source: the clock and the id still differ between processes
    }
    return t;
  }();
  static std::atomic<std::uint64_t> counter{0};
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".tmp-%llu-%08llx-%llu", static_cast<unsigned long long>(process_id()),
                static_cast<unsigned long long>(token & 0xffffffffULL), static_cast<unsigned long long>(counter.fetch_add(1)));
  std::filesystem::path tmp = path;
  tmp += suffix;
  return tmp;
}

/// Calls write(out) on a temporary file beside `path`, then renames it over `path`. On any
/// failure the temporary is removed, `path` is left as it was, and recmix::io_error naming `api`
/// and the path is thrown (an io_error from `write` is reported as a failed write; other
/// exceptions pass through after the cleanup).
template <class Write>
void write_atomically(const std::filesystem::path& path, const char* api, Write&& write) {
  const std::filesystem::path tmp = temporary_beside(path);
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
