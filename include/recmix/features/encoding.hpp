#pragma once
/// @file
/// Encoders of string categorical columns, learned on train and applied to test:
/// OneHotEncoder (one 0/1 column per category) and OrdinalEncoder (one code per column), with
/// explicit policies for categories not seen at fit, for missing values and for rare
/// categories; and hstack, which joins encoded blocks side by side.
///
/// @code
/// #include <recmix/features/encoding.hpp>
/// namespace rf = recmix::features;
/// std::vector<std::string> sex, segment, province, channel;   // one value per customer
/// rf::OneHotEncoder onehot({.unknown = rf::UnknownPolicy::infrequent, .min_frequency = 50, .max_categories = 20});
/// recmix::RowMatrixXf train_c = onehot.fit_transform({{"sex", sex}, {"segment", segment},
///                                                     {"province", province}, {"channel", channel}});
/// std::vector<std::string> names = onehot.feature_names();   // "sex=H", ..., "channel=<infrequent>"
/// recmix::RowMatrixXf X = rf::hstack({scaler.transform(numeric), train_c});
/// recmix::save(onehot, "onehot.model");                      // <recmix/io/serialization.hpp>
/// @endcode
///
/// How a value is read, at fit and at transform alike: spaces and tabs around it are removed
/// (Options::trim); a value equal to one of Options::missing_markers is missing; any other value
/// is a category. At fit each column learns, in this order of codes:
///   - its named categories, sorted byte-wise (std::string's <): those seen at least
///     min_frequency times and, when max_categories > 0, among the max_categories most frequent
///     (ties go to the smaller string);
///   - one "<infrequent>" category pooling the values seen at fit but not kept, present when
///     some value was pooled or when unknown = UnknownPolicy::infrequent;
///   - one "<missing>" category, present whenever missing = MissingCategory::own_category.
/// The layout depends only on the training data and the options, never on the data transformed.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"

namespace recmix::features {

/// What transform does with a value that fit never saw (neither kept nor pooled).
enum class UnknownPolicy {
  error,       ///< throw invalid_argument naming the column, the row and the value
  ignore,      ///< one-hot: all zeros for that column; ordinal: code -1
  infrequent,  ///< encode it as the column's "<infrequent>" category (always present then)
};

/// What fit and transform do with a missing value (one of Options::missing_markers).
enum class MissingCategory {
  error,         ///< throw invalid_argument naming the column and the row
  own_category,  ///< a "<missing>" category, the last code of every column
  ignore,        ///< one-hot: all zeros for that column; ordinal: code -1
};

/// Options of OneHotEncoder and OrdinalEncoder (see docs/preprocessing.md).
struct EncoderOptions {
  UnknownPolicy unknown = UnknownPolicy::error;
  MissingCategory missing = MissingCategory::own_category;
  /// A category seen fewer times than this at fit is pooled into "<infrequent>" (>= 1).
  Index min_frequency = 1;
  /// Keep at most this many named categories per column, the most frequent; the others are
  /// pooled into "<infrequent>". 0 = no cap. "<infrequent>" and "<missing>" come on top.
  Index max_categories = 0;
  /// Values (after trimming) that mean "missing".
  std::vector<std::string> missing_markers = {"", "NA"};
  /// Remove spaces and tabs around every value before anything else (the Santander file pads
  /// fields: " H", "         NA").
  bool trim = true;
};

/// Label of the pooled category in labels() and feature_names().
inline constexpr std::string_view kInfrequentLabel = "<infrequent>";
/// Label of the missing category in labels() and feature_names().
inline constexpr std::string_view kMissingLabel = "<missing>";
/// Most categories (named, infrequent and missing) one column may have: ordinal codes are
/// floats, which hold every integer up to 2^24 exactly.
inline constexpr Index kMaxCategoriesPerColumn = Index{1} << 24;

/// One named column of string values, viewed, not copied: the values must outlive the call
/// that receives the column. Built from a span of std::string or of std::string_view:
/// @code
/// std::vector<std::string> sex = {"H", "V", " H"};
/// recmix::features::CategoricalColumn column{"sex", sex};
/// @endcode
class CategoricalColumn {
 public:
  CategoricalColumn(std::string_view name, std::span<const std::string> values) noexcept
      : name_(name), strings_(values), size_(values.size()), views_used_(false) {}
  CategoricalColumn(std::string_view name, std::span<const std::string_view> values) noexcept
      : name_(name), views_(values), size_(values.size()), views_used_(true) {}

  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The value in `row` as it is stored (untrimmed).
  [[nodiscard]] std::string_view operator[](std::size_t row) const noexcept {
    return views_used_ ? views_[row] : std::string_view(strings_[row]);
  }

 private:
  std::string_view name_;
  std::span<const std::string> strings_;
  std::span<const std::string_view> views_;
  std::size_t size_;
  bool views_used_;
};

/// The input of the encoders: columns of equal length, one row per sample, in the same order
/// (and with the same names) at fit and at transform. A braced list works:
/// `encoder.fit({{"sex", sex}, {"segment", segment}})`.
using CategoricalColumns = std::vector<CategoricalColumn>;

/// Joins blocks with the same number of rows side by side (the numeric block and the encoded
/// blocks, say). Throws invalid_argument when the row counts differ; no block gives a 0 x 0
/// matrix.
inline RowMatrixXf hstack(std::initializer_list<Eigen::Ref<const RowMatrixXf>> blocks) {
  if (blocks.size() == 0) return {};
  const Eigen::Index rows = blocks.begin()->rows();
  Eigen::Index cols = 0;
  std::size_t b = 0;
  for (const auto& block : blocks) {
    if (block.rows() != rows) {
      throw invalid_argument("hstack: block " + std::to_string(b) + " has " + std::to_string(block.rows()) +
                             " rows, block 0 has " + std::to_string(rows));
    }
    cols += block.cols();
    ++b;
  }
  RowMatrixXf out(rows, cols);
  Eigen::Index offset = 0;
  for (const auto& block : blocks) {
    out.middleCols(offset, block.cols()) = block;
    offset += block.cols();
  }
  return out;
}

namespace detail {

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

/// A value quoted for an error message, cut after 100 bytes.
inline std::string quote_value(std::string_view value) {
  constexpr std::size_t kShown = 100;
  std::string q = "'";
  q.append(value.substr(0, kShown));
  q += value.size() > kShown ? "...'" : "'";
  return q;
}

/// Whether `v` is a strictly increasing list (sorted, no duplicates).
inline bool strictly_sorted(const std::vector<std::string>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
}

/// Saves or loads a list of strings as a count and then the items, so a damaged count is
/// refused (model_format_error) before anything is allocated for it.
template <class Archive>
void archive_strings(Archive& ar, const char* count_name, const char* item_name, std::vector<std::string>& list,
                     std::int64_t max_count) {
  using recmix::detail::archive_field;
  std::int64_t count = static_cast<std::int64_t>(list.size());
  archive_field(ar, count_name, count);
  if constexpr (Archive::is_loading::value) {
    if (count < 0 || count > max_count) {
      throw model_format_error(std::string("field '") + count_name + "' is " + std::to_string(count) + ", out of [0, " +
                               std::to_string(max_count) + "]");
    }
    list.clear();
    for (std::int64_t k = 0; k < count; ++k) {
      std::string item;
      archive_field(ar, item_name, item);
      list.push_back(std::move(item));
    }
  } else {
    for (auto& item : list) archive_field(ar, item_name, item);
  }
}

/// What an encoder learns: per column, its name, named categories, pooled (infrequent) values
/// and the codes of its "<infrequent>" and "<missing>" categories.
class CategoryTable {
 public:
  /// Code of a value dropped by UnknownPolicy::ignore or MissingCategory::ignore.
  static constexpr Index kIgnored = -1;
  /// Most input columns a model file may declare.
  static constexpr std::int64_t kMaxColumns = std::int64_t{1} << 20;

  /// Learns every column; the table changes only if the whole fit succeeds.
  void fit(const CategoricalColumns& columns, const EncoderOptions& o, const char* api) {
    check_shape(columns, api);
    if (columns.front().size() == 0) throw invalid_argument(std::string(api) + ": no rows");
    CategoryTable fresh;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const std::string_view name = columns[c].name();
      if (name.empty()) throw invalid_argument(std::string(api) + ": column " + std::to_string(c) + " has no name");
      for (std::size_t k = 0; k < c; ++k) {
        if (columns[k].name() == name) {
          throw invalid_argument(std::string(api) + ": columns " + std::to_string(k) + " and " + std::to_string(c) +
                                 " are both named " + quote_value(name));
        }
      }
      fresh.names_.emplace_back(name);
      fresh.fit_column(columns[c], o, api);
    }
    fresh.derive(o);
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (fresh.slots_[c] == 0) {
        throw invalid_argument(std::string(api) + ": column " + quote_value(fresh.names_[c]) +
                               " has only missing values, and missing = ignore leaves nothing to encode");
      }
      if (fresh.slots_[c] > kMaxCategoriesPerColumn) {
        throw invalid_argument(std::string(api) + ": column " + quote_value(fresh.names_[c]) + " has " +
                               std::to_string(fresh.slots_[c]) + " categories, more than " +
                               std::to_string(kMaxCategoriesPerColumn) + " (use max_categories)");
      }
    }
    if (fresh.width_ > std::numeric_limits<Index>::max()) {
      throw invalid_argument(std::string(api) + ": " + std::to_string(fresh.width_) + " categories in all");
    }
    *this = std::move(fresh);
  }

  /// Checks that `columns` is what transform accepts: the fitted names, in order, and equal lengths.
  void check_columns(const CategoricalColumns& columns, const char* api) const {
    if (columns.size() != names_.size()) {
      throw invalid_argument(std::string(api) + ": " + std::to_string(columns.size()) + " columns, the encoder was fitted on " +
                             std::to_string(names_.size()));
    }
    check_shape(columns, api);
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (columns[c].name() != names_[c]) {
        throw invalid_argument(std::string(api) + ": column " + std::to_string(c) + " is " + quote_value(columns[c].name()) +
                               ", the encoder was fitted with " + quote_value(names_[c]) + " there");
      }
    }
  }

  /// The code of `raw` in column `c` (0 .. slots(c) - 1, or kIgnored); throws invalid_argument
  /// when the policies say so.
  [[nodiscard]] Index code_of(std::size_t c, std::string_view raw, std::size_t row, const EncoderOptions& o,
                              const char* api) const {
    const std::string_view v = o.trim ? trim_blanks(raw) : raw;
    if (is_missing(v, o)) {
      switch (o.missing) {
        case MissingCategory::own_category: return missing_slot_[c];
        case MissingCategory::ignore: return kIgnored;
        case MissingCategory::error: break;
      }
      throw invalid_argument(std::string(api) + ": missing value " + quote_value(raw) + " in column " + quote_value(names_[c]) +
                             " (row " + std::to_string(row) + ") and missing = error");
    }
    const auto& named = categories_[c];
    const auto it = std::lower_bound(named.begin(), named.end(), v,
                                     [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
    if (it != named.end() && std::string_view(*it) == v) return static_cast<Index>(it - named.begin());
    const auto& pooled = infrequent_[c];
    if (std::binary_search(pooled.begin(), pooled.end(), v, Less{})) return infrequent_slot_[c];
    switch (o.unknown) {
      case UnknownPolicy::ignore: return kIgnored;
      case UnknownPolicy::infrequent: return infrequent_slot_[c];
      case UnknownPolicy::error: break;
    }
    throw invalid_argument(std::string(api) + ": unknown category " + quote_value(v) + " in column " + quote_value(names_[c]) +
                           " (row " + std::to_string(row) + ") and unknown = error");
  }

  [[nodiscard]] bool empty() const noexcept { return names_.empty(); }
  [[nodiscard]] std::size_t num_columns() const noexcept { return names_.size(); }
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
  [[nodiscard]] const std::vector<std::string>& categories(std::size_t c) const { return categories_[c]; }
  [[nodiscard]] const std::vector<std::string>& infrequent(std::size_t c) const { return infrequent_[c]; }
  [[nodiscard]] Index slots(std::size_t c) const { return static_cast<Index>(slots_[c]); }
  [[nodiscard]] Index offset(std::size_t c) const { return static_cast<Index>(offsets_[c]); }
  [[nodiscard]] Index width() const noexcept { return static_cast<Index>(width_); }

  /// One label per code of column `c`: the named categories, then "<infrequent>", "<missing>".
  [[nodiscard]] std::vector<std::string> labels(std::size_t c) const {
    std::vector<std::string> out = categories_[c];
    if (infrequent_slot_[c] >= 0) out.emplace_back(kInfrequentLabel);
    if (missing_slot_[c] >= 0) out.emplace_back(kMissingLabel);
    return out;
  }

  template <class Archive>
  void archive(Archive& ar) {
    archive_strings(ar, "num_columns", "column", names_, kMaxColumns);
    if constexpr (Archive::is_loading::value) {
      categories_.assign(names_.size(), {});
      infrequent_.assign(names_.size(), {});
    }
    for (std::size_t c = 0; c < names_.size(); ++c) {
      archive_strings(ar, "num_categories", "category", categories_[c], kMaxCategoriesPerColumn);
      archive_strings(ar, "num_infrequent", "infrequent", infrequent_[c], std::numeric_limits<Index>::max());
    }
  }

  /// After a load: throws model_format_error unless the table is one fit could have made with
  /// options `o`; then rebuilds the codes of the pooled and missing categories.
  void on_loaded(const EncoderOptions& o, const char* api) {
    auto fail = [&](const std::string& why) { return model_format_error(std::string(api) + ": " + why); };
    if (names_.empty()) throw fail("no columns");
    for (std::size_t c = 0; c < names_.size(); ++c) {
      if (names_[c].empty()) throw fail("column " + std::to_string(c) + " has no name");
      for (std::size_t k = 0; k < c; ++k) {
        if (names_[k] == names_[c]) throw fail("two columns are named " + quote_value(names_[c]));
      }
      const auto& named = categories_[c];
      const auto& pooled = infrequent_[c];
      if (!strictly_sorted(named) || !strictly_sorted(pooled)) throw fail("categories of " + quote_value(names_[c]) + " are not sorted");
      if (o.max_categories > 0 && named.size() > static_cast<std::size_t>(o.max_categories)) {
        throw fail("column " + quote_value(names_[c]) + " keeps more than max_categories categories");
      }
      for (const auto* list : {&named, &pooled}) {
        for (const auto& v : *list) {
          if (is_missing(v, o) || (o.trim && trim_blanks(v).size() != v.size())) {
            throw fail("column " + quote_value(names_[c]) + " has the category " + quote_value(v) + ", which fit cannot produce");
          }
        }
      }
      for (const auto& v : pooled) {
        if (std::binary_search(named.begin(), named.end(), v)) throw fail(quote_value(v) + " is both kept and pooled");
      }
    }
    derive(o);
    for (std::size_t c = 0; c < names_.size(); ++c) {
      if (slots_[c] == 0 || slots_[c] > kMaxCategoriesPerColumn) {
        throw fail("column " + quote_value(names_[c]) + " has " + std::to_string(slots_[c]) + " categories");
      }
    }
    if (width_ > std::numeric_limits<Index>::max()) throw fail("too many categories in all");
  }

 private:
  struct Less {
    bool operator()(const std::string& a, std::string_view b) const noexcept { return std::string_view(a) < b; }
    bool operator()(std::string_view a, const std::string& b) const noexcept { return a < std::string_view(b); }
  };

  static bool is_missing(std::string_view v, const EncoderOptions& o) noexcept {
    return std::any_of(o.missing_markers.begin(), o.missing_markers.end(),
                       [v](const std::string& marker) { return std::string_view(marker) == v; });
  }

  static void check_shape(const CategoricalColumns& columns, const char* api) {
    if (columns.empty()) throw invalid_argument(std::string(api) + ": no columns");
    for (std::size_t c = 1; c < columns.size(); ++c) {
      if (columns[c].size() != columns.front().size()) {
        throw invalid_argument(std::string(api) + ": column " + quote_value(columns[c].name()) + " has " +
                               std::to_string(columns[c].size()) + " values, column " + quote_value(columns.front().name()) +
                               " has " + std::to_string(columns.front().size()));
      }
    }
  }

  void fit_column(const CategoricalColumn& column, const EncoderOptions& o, const char* api) {
    std::map<std::string, std::int64_t, std::less<>> counts;
    for (std::size_t r = 0; r < column.size(); ++r) {
      const std::string_view raw = column[r];
      const std::string_view v = o.trim ? trim_blanks(raw) : raw;
      if (is_missing(v, o)) {
        if (o.missing == MissingCategory::error) {
          throw invalid_argument(std::string(api) + ": missing value " + quote_value(raw) + " in column " +
                                 quote_value(column.name()) + " (row " + std::to_string(r) + ") and missing = error");
        }
        continue;
      }
      const auto it = counts.find(v);
      if (it == counts.end()) {
        counts.emplace(std::string(v), 1);
      } else {
        ++it->second;
      }
    }
    // Entries in sorted order; `keep` marks the named categories.
    std::vector<std::pair<const std::string*, std::int64_t>> entries;
    entries.reserve(counts.size());
    for (const auto& [value, count] : counts) entries.emplace_back(&value, count);
    std::vector<std::size_t> frequent;
    for (std::size_t k = 0; k < entries.size(); ++k) {
      if (entries[k].second >= o.min_frequency) frequent.push_back(k);
    }
    if (o.max_categories > 0 && frequent.size() > static_cast<std::size_t>(o.max_categories)) {
      // Most frequent first; ties by sorted position, i.e. the smaller string first.
      std::sort(frequent.begin(), frequent.end(), [&](std::size_t a, std::size_t b) {
        return entries[a].second != entries[b].second ? entries[a].second > entries[b].second : a < b;
      });
      frequent.resize(static_cast<std::size_t>(o.max_categories));
    }
    std::vector<char> keep(entries.size(), 0);
    for (std::size_t k : frequent) keep[k] = 1;
    std::vector<std::string> named, pooled;
    named.reserve(frequent.size());
    pooled.reserve(entries.size() - frequent.size());
    for (std::size_t k = 0; k < entries.size(); ++k) (keep[k] != 0 ? named : pooled).push_back(*entries[k].first);
    categories_.push_back(std::move(named));
    infrequent_.push_back(std::move(pooled));
  }

  /// Codes of the pooled and missing categories, category counts and output offsets.
  void derive(const EncoderOptions& o) {
    const std::size_t n = names_.size();
    infrequent_slot_.assign(n, -1);
    missing_slot_.assign(n, -1);
    slots_.assign(n, 0);
    offsets_.assign(n, 0);
    width_ = 0;
    for (std::size_t c = 0; c < n; ++c) {
      std::int64_t next = static_cast<std::int64_t>(categories_[c].size());
      if (!infrequent_[c].empty() || o.unknown == UnknownPolicy::infrequent) {
        infrequent_slot_[c] = static_cast<Index>(std::min<std::int64_t>(next, kMaxCategoriesPerColumn));
        ++next;
      }
      if (o.missing == MissingCategory::own_category) {
        missing_slot_[c] = static_cast<Index>(std::min<std::int64_t>(next, kMaxCategoriesPerColumn));
        ++next;
      }
      slots_[c] = next;
      offsets_[c] = width_;
      width_ += next;
    }
  }

  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> categories_;  // named, sorted
  std::vector<std::vector<std::string>> infrequent_;  // pooled at fit, sorted
  // Derived from the above and the options by derive(); not saved.
  std::vector<Index> infrequent_slot_;  // -1 = none
  std::vector<Index> missing_slot_;     // -1 = none
  std::vector<std::int64_t> slots_;
  std::vector<std::int64_t> offsets_;
  std::int64_t width_ = 0;
};

/// What OneHotEncoder and OrdinalEncoder share: options, fit, the learned table, accessors and
/// serialization.
class CategoricalEncoderBase {
 public:
  using scalar_type = float;
  using Options = EncoderOptions;

  /// Learns the categories of every column (see the file comment). Throws invalid_argument for
  /// no columns, no rows, columns of unequal length, a column without a name or two with the
  /// same name, a missing value under MissingCategory::error, or a column left with nothing to
  /// encode. The encoder changes only when the fit succeeds.
  void fit(const CategoricalColumns& columns) { table_.fit(columns, options_, api("fit").c_str()); }

  [[nodiscard]] bool is_fitted() const noexcept { return !table_.empty(); }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  /// Number of input columns seen by fit (0 before).
  [[nodiscard]] Index num_columns() const noexcept { return static_cast<Index>(table_.num_columns()); }
  /// Names of the input columns, in order.
  [[nodiscard]] const std::vector<std::string>& column_names() const noexcept { return table_.names(); }
  /// Named categories of `column`, sorted: codes 0 .. size - 1.
  [[nodiscard]] const std::vector<std::string>& categories(Index column) const {
    return table_.categories(checked(column, "categories"));
  }
  /// Values of `column` pooled into "<infrequent>" at fit, sorted.
  [[nodiscard]] const std::vector<std::string>& infrequent_categories(Index column) const {
    return table_.infrequent(checked(column, "infrequent_categories"));
  }
  /// One label per code of `column`: its categories, then "<infrequent>" and "<missing>" when
  /// the column has them.
  [[nodiscard]] std::vector<std::string> labels(Index column) const { return table_.labels(checked(column, "labels")); }

  /// Boost.Serialization hook; use recmix::save / recmix::load from <recmix/io/serialization.hpp>.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "unknown", options_.unknown);
    archive_field(ar, "missing", options_.missing);
    archive_field(ar, "min_frequency", options_.min_frequency);
    archive_field(ar, "max_categories", options_.max_categories);
    archive_field(ar, "trim", options_.trim);
    archive_strings(ar, "num_missing_markers", "missing_marker", options_.missing_markers, kMaxMarkers);
    table_.archive(ar);
  }

  /// Called by recmix::load on the freshly read encoder: throws model_format_error unless the
  /// options and the learned categories are consistent.
  void on_loaded() {
    const std::string who = api("load");
    try {
      validate_options(options_, who.c_str());
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    table_.on_loaded(options_, who.c_str());
  }

 protected:
  CategoricalEncoderBase(const char* class_name, Options options) : class_name_(class_name), options_(std::move(options)) {
    validate_options(options_, class_name_);
  }

  [[nodiscard]] std::string api(const char* method) const { return std::string(class_name_) + "::" + method; }

  void check_fitted(const std::string& who) const {
    if (!is_fitted()) throw not_fitted(who + ": the encoder is not fitted (call fit or load first)");
  }

  [[nodiscard]] std::size_t checked(Index column, const char* method) const {
    const std::string who = api(method);
    check_fitted(who);
    if (column < 0 || column >= num_columns()) {
      throw invalid_argument(who + ": column " + std::to_string(column) + " out of range [0, " +
                             std::to_string(num_columns()) + ")");
    }
    return static_cast<std::size_t>(column);
  }

  const char* class_name_;
  Options options_;
  CategoryTable table_;

 private:
  static constexpr std::int64_t kMaxMarkers = 1024;

  static void validate_options(const Options& o, const char* who) {
    const std::string api(who);
    if (o.unknown != UnknownPolicy::error && o.unknown != UnknownPolicy::ignore && o.unknown != UnknownPolicy::infrequent) {
      throw invalid_argument(api + ": unknown unknown-category policy " + std::to_string(static_cast<int>(o.unknown)));
    }
    if (o.missing != MissingCategory::error && o.missing != MissingCategory::own_category &&
        o.missing != MissingCategory::ignore) {
      throw invalid_argument(api + ": unknown missing-value policy " + std::to_string(static_cast<int>(o.missing)));
    }
    if (o.min_frequency < 1) throw invalid_argument(api + ": min_frequency must be >= 1, got " + std::to_string(o.min_frequency));
    if (o.max_categories < 0) {
      throw invalid_argument(api + ": max_categories must be >= 0 (0 = no cap), got " + std::to_string(o.max_categories));
    }
    if (o.missing_markers.size() > static_cast<std::size_t>(kMaxMarkers)) {
      throw invalid_argument(api + ": more than " + std::to_string(kMaxMarkers) + " missing markers");
    }
    for (const auto& marker : o.missing_markers) {
      if (o.trim && trim_blanks(marker).size() != marker.size()) {
        throw invalid_argument(api + ": missing marker " + quote_value(marker) +
                               " has spaces or tabs around it and can never match a trimmed value");
      }
    }
  }
};

}  // namespace detail

/// One 0/1 column per category of every input column (see the file comment for the layout).
///
/// @code
/// recmix::features::OneHotEncoder enc({.unknown = recmix::features::UnknownPolicy::ignore});
/// std::vector<std::string> sex = {"H", "V", " H"};
/// recmix::RowMatrixXf X = enc.fit_transform({{"sex", sex}});   // columns sex=H, sex=V, sex=<missing>
/// @endcode
class OneHotEncoder : public detail::CategoricalEncoderBase {
 public:
  static constexpr const char* kModelKind = "one_hot_encoder";
  static constexpr unsigned kFormatVersion = 1;

  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit OneHotEncoder(Options options = {}) : CategoricalEncoderBase("OneHotEncoder", std::move(options)) {}

  /// A rows x width() matrix of 0 and 1: row r has a 1 in the column of its category in every
  /// input column, except where a policy says ignore (all zeros there). Throws not_fitted, and
  /// invalid_argument when the columns differ from the fit's (count, names, order), have
  /// unequal lengths, or when a value meets UnknownPolicy::error or MissingCategory::error.
  [[nodiscard]] RowMatrixXf transform(const CategoricalColumns& columns) const {
    const std::string who = api("transform");
    check_fitted(who);
    table_.check_columns(columns, who.c_str());
    const auto rows = static_cast<Eigen::Index>(columns.front().size());
    RowMatrixXf out = RowMatrixXf::Zero(rows, table_.width());
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const Index offset = table_.offset(c);
      for (Eigen::Index r = 0; r < rows; ++r) {
        const auto row = static_cast<std::size_t>(r);
        const Index code = table_.code_of(c, columns[c][row], row, options_, who.c_str());
        if (code != detail::CategoryTable::kIgnored) out(r, offset + code) = 1.0f;
      }
    }
    return out;
  }

  /// fit(columns), then transform(columns).
  RowMatrixXf fit_transform(const CategoricalColumns& columns) {
    fit(columns);
    return transform(columns);
  }

  /// Total number of output columns (0 before fit).
  [[nodiscard]] Index width() const noexcept { return table_.width(); }
  /// First output column of input column `column`.
  [[nodiscard]] Index offset(Index column) const { return table_.offset(checked(column, "offset")); }

  /// One name per output column, "<column>=<label>": "sex=H", "segment=02 - PARTICULARES",
  /// "channel=<infrequent>", "province=<missing>".
  [[nodiscard]] std::vector<std::string> feature_names() const {
    check_fitted(api("feature_names"));
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(width()));
    for (std::size_t c = 0; c < table_.num_columns(); ++c) {
      for (const auto& label : table_.labels(c)) out.push_back(table_.names()[c] + "=" + label);
    }
    return out;
  }
};

/// One code per input column: 0 .. k - 1 for its named categories (sorted), then
/// "<infrequent>", then "<missing>"; kIgnored (-1) where a policy says ignore. The codes are
/// floats (exact: at most 2^24 categories per column), so they join other blocks with hstack.
///
/// @code
/// recmix::features::OrdinalEncoder enc;
/// std::vector<std::string> segment = {"02 - PARTICULARES", "01 - TOP", "NA"};
/// recmix::RowMatrixXf codes = enc.fit_transform({{"segment", segment}});   // 1, 0, 2 (<missing>)
/// @endcode
class OrdinalEncoder : public detail::CategoricalEncoderBase {
 public:
  static constexpr const char* kModelKind = "ordinal_encoder";
  static constexpr unsigned kFormatVersion = 1;
  /// The code of a value dropped by UnknownPolicy::ignore or MissingCategory::ignore.
  static constexpr float kIgnored = -1.0f;

  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit OrdinalEncoder(Options options = {}) : CategoricalEncoderBase("OrdinalEncoder", std::move(options)) {}

  /// A rows x num_columns() matrix of codes (labels(c)[code] names code `code` of column c).
  /// Throws like OneHotEncoder::transform.
  [[nodiscard]] RowMatrixXf transform(const CategoricalColumns& columns) const {
    const std::string who = api("transform");
    check_fitted(who);
    table_.check_columns(columns, who.c_str());
    const auto rows = static_cast<Eigen::Index>(columns.front().size());
    RowMatrixXf out(rows, static_cast<Eigen::Index>(columns.size()));
    for (std::size_t c = 0; c < columns.size(); ++c) {
      for (Eigen::Index r = 0; r < rows; ++r) {
        const auto row = static_cast<std::size_t>(r);
        out(r, static_cast<Eigen::Index>(c)) = static_cast<float>(table_.code_of(c, columns[c][row], row, options_, who.c_str()));
      }
    }
    return out;
  }

  /// fit(columns), then transform(columns).
  RowMatrixXf fit_transform(const CategoricalColumns& columns) {
    fit(columns);
    return transform(columns);
  }
};

}  // namespace recmix::features
