#pragma once
// What every whole-process driver in benchmarks/ shares: the peak memory of the process and
// the one-line JSON result.

#include <sys/resource.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace recmix::bench {

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
