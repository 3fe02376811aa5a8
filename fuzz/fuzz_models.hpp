#pragma once
// Shared by the model-loader fuzz targets and by make_corpus: the layout of a fuzz input, the
// small fitted models the seed corpora are made of, and what "handled cleanly" means for a load.
//
// A fuzz input is one selector byte followed by a body:
//   selector & 0x03   0 = binary, 1 = text, 2 = xml: the body is an archive payload, which the
//                     target wraps in a valid envelope (right kind, version, size and CRC), so the
//                     fuzzer reaches the archive parsers and the models' own checks instead of
//                     stopping at the checksum;
//                     3 = the body is a whole model file, envelope included (the header parser,
//                     the checksum and the size checks are fuzzed).
//   selector >> 2     which model kind of the target reads the body (modulo the target's count).
//
// A load must either succeed, giving a model that can then be used, or throw
// recmix::model_format_error. Any other exception aborts (libFuzzer reports it as a crash), and
// so do the sanitizers' reports.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "recmix/io/serialization.hpp"

namespace recmix::fuzz {

inline constexpr ArchiveFormat kFormats[] = {ArchiveFormat::binary, ArchiveFormat::text, ArchiveFormat::xml};

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

/// The payload (archive bytes) of a saved model: the file minus its two header lines.
inline std::string payload_of_file(const std::string& file) {
  const std::size_t first = file.find('\n');
  const std::size_t second = first == std::string::npos ? std::string::npos : file.find('\n', first + 1);
  if (second == std::string::npos) fail("payload_of_file", "not a model file");
  return file.substr(second + 1);
}

/// A model file holding `payload` under a valid envelope for Model.
template <class Model>
std::string wrap(const std::string& payload, ArchiveFormat format) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(detail::crc32(payload.data(), payload.size())));
  std::string file = std::string(detail::kMagic) + "\nenvelope " + std::to_string(detail::kEnvelopeVersion) + " kind " +
                     Model::kModelKind + " version " + std::to_string(Model::kFormatVersion) + " scalar " +
                     scalar_name<typename Model::scalar_type>() + " archive " + detail::format_name(format) + " bytes " +
                     std::to_string(payload.size()) + " crc32 " + crc + "\n";
  return file + payload;
}

template <class Model>
std::string saved(const Model& model, ArchiveFormat format) {
  std::ostringstream out(std::ios::binary);
  save(model, out, {.format = format});
  return std::move(out).str();
}

/// The seed inputs for model number `index` of a target: one per archive format (payload under
/// a selector) and one whole binary file.
template <class Model>
std::vector<std::string> seeds_for(const Model& model, unsigned index) {
  std::vector<std::string> out;
  for (unsigned f = 0; f < 3; ++f) {
    const std::string file = saved(model, kFormats[f]);
    out.push_back(std::string(1, static_cast<char>((index << 2) | f)) + payload_of_file(file));
  }
  out.push_back(std::string(1, static_cast<char>((index << 2) | 3U)) + saved(model, ArchiveFormat::binary));
  return out;
}

/// Loads the body as a Model; on success calls use(model). Returns normally for a clean refusal.
template <class Model, class Use>
void load_and_use(std::uint8_t selector, const std::string& body, Use&& use) {
  const unsigned mode = selector & 0x03U;
  const std::string file = mode == 3 ? body : wrap<Model>(body, kFormats[mode]);
  Model model;
  try {
    std::istringstream in(file, std::ios::binary);
    load(model, in, "fuzz");
  } catch (const model_format_error&) {
    if (model.is_fitted()) fail("a refused load changed the model", Model::kModelKind);
    return;
  } catch (const std::exception& e) {
    fail("load threw something other than model_format_error", e.what());
  }
  if (!model.is_fitted()) fail("an accepted model is not fitted", Model::kModelKind);
  try {
    use(model);
  } catch (const error&) {
    // A recmix error while using an accepted model (e.g. a refused batch) is a clean refusal.
  } catch (const std::exception& e) {
    fail("using an accepted model threw a foreign exception", e.what());
  }
  // What was accepted must save again and load back to an equal-size file.
  const std::string again = saved(model, ArchiveFormat::binary);
  Model copy;
  std::istringstream in(again, std::ios::binary);
  try {
    load(copy, in, "fuzz-resave");
  } catch (const std::exception& e) {
    fail("an accepted model does not round-trip", e.what());
  }
  if (saved(copy, ArchiveFormat::binary) != again) fail("an accepted model changes on a round trip", Model::kModelKind);
}

/// Splits a fuzz input into its selector and body.
inline bool split_input(const std::uint8_t* data, std::size_t size, std::uint8_t& selector, std::string& body) {
  if (size == 0) return false;
  selector = data[0];
  body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  return true;
}

}  // namespace recmix::fuzz
