#pragma once
/// @file
/// The recmix exception hierarchy. Every error the library throws derives from recmix::error,
/// which derives from std::runtime_error, so `catch (const std::exception&)` also works.
///
/// @code
/// try { model.load("model.bin"); }
/// catch (const recmix::model_format_error& e) { std::cerr << e.what() << '\n'; }
/// @endcode

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace recmix {

/// Base of every exception recmix throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed a value the API does not accept (bad option, id out of range, NaN weight).
/// The message starts with the API name, e.g. "ImplicitALS::recommend: user 913 >= num_users (900)".
class invalid_argument : public error {
 public:
  using error::error;
};

/// A model was asked to score, recommend or save before it was fitted or loaded.
class not_fitted : public error {
 public:
  using error::error;
};

/// Malformed text input. Carries the source (file name or "<stream>"), 1-based line and column.
class parse_error : public error {
 public:
  parse_error(std::string source, std::size_t line, std::size_t column, const std::string& what)
      : error(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what),
        source_(std::move(source)),
        line_(line),
        column_(column) {}

  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] std::size_t column() const noexcept { return column_; }

 private:
  std::string source_;
  std::size_t line_;
  std::size_t column_;
};

/// A model file that is truncated, corrupted, of another model kind or scalar type, or not a
/// recmix file at all. A load that throws this leaves the caller's model untouched.
class model_format_error : public error {
 public:
  using error::error;
};

/// An I/O failure that is not a format problem (cannot open, cannot write, rename failed).
class io_error : public error {
 public:
  using error::error;
};

}  // namespace recmix
