#pragma once
// What every whole-process driver in benchmarks/ shares: usage errors and option values, the
// peak memory of the process and the one-line JSON result.

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace recmix::bench {

/// Prints "program: message" and the usage text on stderr and exits with status 2.
[[noreturn]] inline void usage_error(const char* program, const char* usage, const std::string& message) {
  std::cerr << program << ": " << message << '\n' << usage;
  std::exit(2);
}

/// Parses the whole of `text` as a T (finite for floating point); calls `fail` (which must not
/// return) with a message naming the option otherwise.
template <class T, class Fail>
T parse_value(std::string_view option, std::string_view text, Fail&& fail) {
  T value{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    fail(std::string(option) + ": cannot parse '" + std::string(text) + "'");
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) fail(std::string(option) + " must be finite");
  }
  return value;
}

/// Wall seconds since t0.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// User + system CPU seconds of this process so far.
inline double cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return std::nan("");
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

/// Peak resident set of this process so far, MiB (getrusage: KiB on Linux).
inline double peak_rss_mb() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return std::nan("");
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

/// One JSON object on one line, keys in insertion order.
class JsonLine {
 public:
  void number(std::string_view key, double v, int digits = 6) {
    if (!std::isfinite(v)) return raw(key, "null");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    raw(key, buf);
  }
  void integer(std::string_view key, std::int64_t v) { raw(key, std::to_string(v)); }
  void boolean(std::string_view key, bool v) { raw(key, v ? "true" : "false"); }
  void string(std::string_view key, std::string_view v) {
    std::string s = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') {
        s += '\\';
        s += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
        s += esc;
      } else {
        s += c;
      }
    }
    raw(key, s + "\"");
  }
  void raw(std::string_view key, std::string_view v) {
    text_ += text_.empty() ? "{" : ", ";
    text_ += '"';
    text_ += key;
    text_ += "\": ";
    text_ += v;
  }
  [[nodiscard]] std::string str() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

}  // namespace recmix::bench
