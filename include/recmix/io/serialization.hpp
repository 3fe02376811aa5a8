#pragma once
/// @file
/// Saving and loading models: Boost.Serialization archives (binary, text or XML) inside a small
/// checked envelope. Link recmix::serialization (adds Boost.Serialization) to use this header.
///
/// @code
/// #include <recmix/io/serialization.hpp>
/// recmix::save(als, "als.model");                                   // binary archive
/// recmix::save(als, "als.xml", {.format = recmix::ArchiveFormat::xml});
/// recmix::als::ImplicitALS<float> restored;
/// recmix::load(restored, "als.model");    // throws model_format_error; `restored` untouched then
/// @endcode
///
/// File layout: a magic line `RECMIX-MODEL`, one header line
///   `envelope 2 kind implicit_als version 1 scalar float32 archive binary bytes 123 crc32 1a2b3c4d`
/// and then exactly `bytes` bytes of Boost archive. Load checks, in order: the magic, the
/// envelope version, the model kind, the model format version (a newer file is refused), the
/// scalar type, the archive kind, the payload length (a truncated file is refused) and its CRC-32
/// (a flipped byte is refused), and only then parses the payload into a fresh model, which
/// replaces the caller's only when everything succeeded. Inside the payload every vector and
/// string is written as a count and then its items (recmix::detail::archive_field), and the
/// loader charges each count against the bytes the payload has, so a damaged or crafted count is
/// refused before anything is allocated for it. Saves write a temporary file beside the
/// target and rename it over the target, so an interrupted save never leaves a half-written model.

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/basic_archive.hpp>
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/text_iarchive.hpp>
#include <boost/archive/text_oarchive.hpp>
#include <boost/archive/xml_iarchive.hpp>
#include <boost/archive/xml_oarchive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/nvp.hpp>
#include <boost/serialization/split_free.hpp>
#include <boost/serialization/string.hpp>

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/io/atomic_file.hpp"

namespace recmix {

enum class ArchiveFormat { binary, text, xml };

struct SaveOptions {
  ArchiveFormat format = ArchiveFormat::binary;
};

/// What save/load need of a model: a kind name, a format version, a scalar type, a Boost
/// serialize() member, default construction and is_fitted().
template <class M>
concept SerializableModel = std::is_default_constructible_v<M> && requires(const M& m) {
  { M::kModelKind } -> std::convertible_to<const char*>;
  { M::kFormatVersion } -> std::convertible_to<unsigned>;
  typename M::scalar_type;
  { m.is_fitted() } -> std::convertible_to<bool>;
};

namespace detail {

/// Elements the rest of the payload being loaded may still hold. Every element of every vector,
/// string and matrix takes at least one byte in every archive format, so the counts of one file
/// add up to at most its payload size: each count is charged here and a count beyond what is left
/// is refused before anything is allocated for it.
inline thread_local std::uint64_t load_element_budget = std::numeric_limits<std::uint64_t>::max();

inline void charge_elements(std::uint64_t count, const char* what) {
  if (count > load_element_budget) {
    throw model_format_error(std::string(what) + " claims " + std::to_string(count) +
                             " elements, more than the rest of the file holds");
  }
  load_element_budget -= count;
}

template <class T>
inline constexpr bool is_std_vector = false;
template <class T, class A>
inline constexpr bool is_std_vector<std::vector<T, A>> = true;

template <class Archive>
inline constexpr bool is_xml_archive =
    std::is_same_v<Archive, boost::archive::xml_iarchive> || std::is_same_v<Archive, boost::archive::xml_oarchive>;
template <class Archive>
inline constexpr bool is_binary_archive =
    std::is_same_v<Archive, boost::archive::binary_iarchive> || std::is_same_v<Archive, boost::archive::binary_oarchive>;

template <class Archive>
std::uint64_t archive_count(Archive& ar, const char* name, std::uint64_t count) {
  ar& boost::serialization::make_nvp(name, count);
  if constexpr (Archive::is_loading::value) charge_elements(count, (std::string("field '") + name + "'").c_str());
  return count;
}

template <class Archive, class T>
void archive_field(Archive& ar, const char* name, T& value) {
  if constexpr (std::is_same_v<T, bool> && std::is_same_v<Archive, boost::archive::binary_iarchive>) {
    // Boost copies a bool's byte from a binary archive straight into the bool, so a corrupted
    // byte would make a bool that is neither true nor false. Read the byte and check it.
    static_assert(sizeof(bool) == 1, "binary archives store a bool as one byte");
    unsigned char byte = 0;
    ar >> boost::serialization::make_nvp(name, byte);
    if (byte > 1) throw model_format_error(std::string("field '") + name + "' is not a bool (" + std::to_string(byte) + ")");
    value = byte != 0;
  } else if constexpr (std::is_same_v<T, std::string> && !is_xml_archive<Archive>) {
    // Boost's binary and text archives size a string from its stored length before reading it;
    // write the length ourselves so it is checked first. (XML strings end at their closing tag.)
    const std::uint64_t n = archive_count(ar, name, value.size());
    if constexpr (Archive::is_loading::value) value.assign(static_cast<std::size_t>(n), '\0');
    if (n > 0) ar& boost::serialization::make_nvp("chars", boost::serialization::make_array(value.data(), value.size()));
  } else if constexpr (is_std_vector<T>) {
    using Item = typename T::value_type;
    const std::uint64_t n = archive_count(ar, name, value.size());
    if constexpr (std::is_arithmetic_v<Item> && !std::is_same_v<Item, bool>) {
      if constexpr (Archive::is_loading::value) value.assign(static_cast<std::size_t>(n), Item{});
      if (n > 0) ar& boost::serialization::make_nvp("items", boost::serialization::make_array(value.data(), value.size()));
    } else if constexpr (Archive::is_loading::value) {
      // Items of a class type grow the vector as they are read, so memory follows the file.
      value.clear();
      value.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, 1024)));
      for (std::uint64_t i = 0; i < n; ++i) {
        Item item{};
        archive_field(ar, "item", item);
        value.push_back(std::move(item));
      }
    } else {
      for (std::size_t i = 0; i < value.size(); ++i) {
        Item item = value[i];  // a copy, so vector<bool> (whose items are proxies) works too
        archive_field(ar, "item", item);
      }
    }
  } else {
    ar& boost::serialization::make_nvp(name, value);
  }
}

inline std::uint32_t crc32(const char* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<unsigned char>(data[i])) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

inline const char* format_name(ArchiveFormat f) {
  switch (f) {
    case ArchiveFormat::binary: return "binary";
    case ArchiveFormat::text: return "text";
    case ArchiveFormat::xml: return "xml";
  }
  return "unknown";
}

inline constexpr const char* kMagic = "RECMIX-MODEL";
/// Envelope 2: vectors and strings as checked counts plus items (envelope 1 used Boost's own
/// vector and string layouts, whose lengths could not be checked before allocation).
inline constexpr unsigned kEnvelopeVersion = 2;

template <class Model>
std::string payload_of(const Model& model, ArchiveFormat format) {
  std::ostringstream os(std::ios::binary);
  {
    // Boost's save API takes a const object; serialize() is shared between save and load.
    Model& m = const_cast<Model&>(model);
    switch (format) {
      case ArchiveFormat::binary: {
        boost::archive::binary_oarchive ar(os);
        ar << boost::serialization::make_nvp("model", m);
        break;
      }
      case ArchiveFormat::text: {
        boost::archive::text_oarchive ar(os);
        ar << boost::serialization::make_nvp("model", m);
        break;
      }
      case ArchiveFormat::xml: {
        boost::archive::xml_oarchive ar(os);
        ar << boost::serialization::make_nvp("model", m);
        break;
      }
    }
  }
  return std::move(os).str();
}

struct Envelope {
  unsigned envelope = 0;
  std::string kind;
  unsigned version = 0;
  std::string scalar;
  std::string archive;
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
};

inline Envelope parse_envelope(std::istream& in, const std::string& source) {
  auto fail = [&](const std::string& why) { return model_format_error(source + ": " + why); };
  std::string magic;
  if (!std::getline(in, magic) || magic != kMagic) throw fail("not a recmix model file (bad magic)");
  std::string header;
  if (!std::getline(in, header) || header.size() > 1024) throw fail("missing or malformed header line");
  std::istringstream hs(header);
  Envelope e;
  std::string key, crc_hex;
  bool have[7] = {};
  while (hs >> key) {
    if (key == "envelope" && (hs >> e.envelope)) have[0] = true;
    else if (key == "kind" && (hs >> e.kind)) have[1] = true;
    else if (key == "version" && (hs >> e.version)) have[2] = true;
    else if (key == "scalar" && (hs >> e.scalar)) have[3] = true;
    else if (key == "archive" && (hs >> e.archive)) have[4] = true;
    else if (key == "bytes" && (hs >> e.bytes)) have[5] = true;
    else if (key == "crc32" && (hs >> crc_hex)) {
      // Exactly as save writes it (eight lowercase hex digits), so no edit of the header is
      // read as the same value.
      if (crc_hex.size() != 8 || crc_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw fail("malformed crc32 in header");
      }
      const unsigned long v = std::strtoul(crc_hex.c_str(), nullptr, 16);
      e.crc = static_cast<std::uint32_t>(v);
      have[6] = true;
    } else {
      throw fail("malformed header near '" + key + "'");
    }
  }
  for (bool h : have) {
    if (!h) throw fail("incomplete header line");
  }
  if (e.envelope > kEnvelopeVersion) {
    throw fail("written by a newer recmix (envelope " + std::to_string(e.envelope) + " > " +
               std::to_string(kEnvelopeVersion) + ")");
  }
  if (e.envelope < kEnvelopeVersion) {
    throw fail("written by an older recmix (envelope " + std::to_string(e.envelope) +
               "), whose payload layout this version does not read; save the model again with this version");
  }
  return e;
}

template <class Model>
void check_envelope(const Envelope& e, const std::string& source) {
  auto fail = [&](const std::string& why) { return model_format_error(source + ": " + why); };
  if (e.kind != Model::kModelKind) {
    throw fail("holds a '" + e.kind + "' model, expected '" + std::string(Model::kModelKind) + "'");
  }
  if (e.version == 0) throw fail("invalid " + e.kind + " format version 0");
  if (e.version > Model::kFormatVersion) {
    throw fail("written by a newer recmix (" + e.kind + " format " + std::to_string(e.version) + " > " +
               std::to_string(Model::kFormatVersion) + ")");
  }
  if (e.scalar != scalar_name<typename Model::scalar_type>()) {
    throw fail("holds " + e.scalar + " factors, expected " + scalar_name<typename Model::scalar_type>());
  }
  if (e.archive != "binary" && e.archive != "text" && e.archive != "xml") throw fail("unknown archive kind '" + e.archive + "'");
}

/// Whether a binary or text payload starts with the signature Boost writes (the length of
/// "serialization::archive", then the string). Boost's binary and text archives size a string to
/// that length before reading and checking it, so a corrupted length would allocate gigabytes.
/// XML archives carry the signature as an attribute, with no length.
inline bool has_archive_signature(const std::string& payload, const std::string& archive) {
  const std::string signature = boost::archive::BOOST_ARCHIVE_SIGNATURE();
  std::string expected;
  if (archive == "binary") {
    const std::size_t length = signature.size();
    expected.assign(reinterpret_cast<const char*>(&length), sizeof length);
  } else if (archive == "text") {
    expected = std::to_string(signature.size()) + ' ';
  } else {
    return true;
  }
  expected += signature;
  return payload.compare(0, expected.size(), expected) == 0;
}

/// Restores the element budget when a load ends.
struct BudgetScope {
  std::size_t saved;
  explicit BudgetScope(std::size_t budget) : saved(load_element_budget) { load_element_budget = budget; }
  ~BudgetScope() { load_element_budget = saved; }
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;
};

}  // namespace detail

/// Writes the model to a stream (envelope + archive). Throws not_fitted for an unfitted model.
template <SerializableModel Model>
void save(const Model& model, std::ostream& out, const SaveOptions& options = {}) {
  if (!model.is_fitted()) throw not_fitted(std::string("save: the ") + Model::kModelKind + " model is not fitted");
  const std::string payload = detail::payload_of(model, options.format);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(detail::crc32(payload.data(), payload.size())));
  out << detail::kMagic << '\n'
      << "envelope " << detail::kEnvelopeVersion << " kind " << Model::kModelKind << " version " << Model::kFormatVersion
      << " scalar " << scalar_name<typename Model::scalar_type>() << " archive " << detail::format_name(options.format)
      << " bytes " << payload.size() << " crc32 " << crc << '\n';
  out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
}

/// Saves atomically: writes a temporary `path.tmp-<pid>-<token>-<n>` beside `path`, then renames it over `path`. On any
/// failure the temporary is removed, `path` is left as it was, and recmix::io_error is thrown.
template <SerializableModel Model>
void save(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {}) {
  const std::filesystem::path tmp = io::detail::temporary_beside(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error("save: cannot open " + tmp.string() + " for writing");
    try {
      save(model, out, options);
      out.flush();
    } catch (...) {
      out.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw;
    }
    if (!out) {
      out.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw io_error("save: writing " + tmp.string() + " failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw io_error("save: cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
}

/// Loads a model from a stream. On any error throws recmix::model_format_error naming `source`
/// and leaves `model` unchanged.
template <SerializableModel Model>
void load(Model& model, std::istream& in, const std::string& source = "<stream>") {
  const detail::Envelope e = detail::parse_envelope(in, source);
  detail::check_envelope<Model>(e, source);
  if (e.bytes > (std::uint64_t{1} << 40)) throw model_format_error(source + ": implausible payload size");
  std::string payload;
  {
    constexpr std::size_t kStep = std::size_t{1} << 24;
    std::size_t got = 0;
    while (got < e.bytes) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kStep, e.bytes - got));
      payload.resize(got + want);
      in.read(payload.data() + got, static_cast<std::streamsize>(want));
      got += static_cast<std::size_t>(in.gcount());
      if (static_cast<std::size_t>(in.gcount()) < want) {
        throw model_format_error(source + ": truncated (payload has " + std::to_string(got) + " of " +
                                 std::to_string(e.bytes) + " bytes)");
      }
    }
  }
  if (in.peek() != std::char_traits<char>::eof()) throw model_format_error(source + ": trailing bytes after the payload");
  if (detail::crc32(payload.data(), payload.size()) != e.crc) {
    throw model_format_error(source + ": checksum mismatch (the file is corrupted)");
  }
  if (!detail::has_archive_signature(payload, e.archive)) {
    throw model_format_error(source + ": the payload is not a Boost " + e.archive + " archive");
  }
  Model fresh;
  try {
    detail::BudgetScope budget(payload.size());
    std::istringstream is(payload, std::ios::binary);
    if (e.archive == "binary") {
      boost::archive::binary_iarchive ar(is);
      ar >> boost::serialization::make_nvp("model", fresh);
    } else if (e.archive == "text") {
      boost::archive::text_iarchive ar(is);
      ar >> boost::serialization::make_nvp("model", fresh);
    } else {
      // Boost 1.74 compares a closing tag with the expected name by reading the expected name at
      // the closing tag's length, past its end when the file's tag is longer (an over-read on a
      // crafted file). Tags carry no data, values are read in order, so skip that check.
      boost::archive::xml_iarchive ar(is, boost::archive::no_xml_tag_checking);
      ar >> boost::serialization::make_nvp("model", fresh);
      // The archive's destructor reads the closing tag and would throw from the destructor
      // (std::terminate) when the stream has no '>' left; refuse such a file while an exception
      // can still propagate (the destructor skips that read during unwinding).
      const std::streamoff at = is.good() ? static_cast<std::streamoff>(is.tellg()) : -1;
      if (at < 0 || payload.find('>', static_cast<std::size_t>(at)) == std::string::npos) {
        throw model_format_error("the XML archive ends without its closing tag");
      }
    }
    if constexpr (requires { fresh.on_loaded(); }) fresh.on_loaded();
  } catch (const model_format_error& err) {
    throw model_format_error(source + ": " + err.what());
  } catch (const std::exception& err) {
    throw model_format_error(source + ": cannot parse the " + e.archive + " archive: " + err.what());
  }
  model = std::move(fresh);
}

/// Loads from a file; recmix::io_error when it cannot be opened or is a directory,
/// model_format_error otherwise.
template <SerializableModel Model>
void load(Model& model, const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw io_error("load: " + path.string() + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("load: cannot open " + path.string());
  load(model, in, path.string());
}

}  // namespace recmix

// ---- Eigen dense matrices in Boost archives -------------------------------------------------
namespace boost::serialization {

template <class Archive, class S, int R, int C, int O, int MR, int MC>
void save(Archive& ar, const Eigen::Matrix<S, R, C, O, MR, MC>& m, unsigned /*version*/) {
  std::int64_t rows = m.rows(), cols = m.cols();
  ar << make_nvp("rows", rows) << make_nvp("cols", cols);
  if (m.size() > 0) ar << make_nvp("data", make_array(m.data(), static_cast<std::size_t>(m.size())));
}

template <class Archive, class S, int R, int C, int O, int MR, int MC>
void load(Archive& ar, Eigen::Matrix<S, R, C, O, MR, MC>& m, unsigned /*version*/) {
  std::int64_t rows = 0, cols = 0;
  ar >> make_nvp("rows", rows) >> make_nvp("cols", cols);
  if (rows < 0 || cols < 0 || (R != Eigen::Dynamic && rows != R) || (C != Eigen::Dynamic && cols != C)) {
    throw recmix::model_format_error("matrix has an invalid shape " + std::to_string(rows) + " x " + std::to_string(cols));
  }
  if (rows != 0 && static_cast<std::uint64_t>(cols) > recmix::detail::load_element_budget / static_cast<std::uint64_t>(rows)) {
    throw recmix::model_format_error("matrix of " + std::to_string(rows) + " x " + std::to_string(cols) +
                                     " is larger than the file");
  }
  recmix::detail::charge_elements(static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols), "matrix");
  m.resize(rows, cols);
  if (m.size() > 0) ar >> make_nvp("data", make_array(m.data(), static_cast<std::size_t>(m.size())));
}

template <class Archive, class S, int R, int C, int O, int MR, int MC>
void serialize(Archive& ar, Eigen::Matrix<S, R, C, O, MR, MC>& m, unsigned version) {
  split_free(ar, m, version);
}

}  // namespace boost::serialization
