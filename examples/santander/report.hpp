#pragma once
/// @file
/// The HTML report of santander-hybrid: one self-contained page (inline CSS, charts as inline
/// SVG, no JavaScript, no external files) with the facts of the run, customers and product
/// additions per month, product popularity, and the models' metrics as charts and as a table.
///
/// @code
/// santander_example::ReportData rd;
/// rd.facts = {{"data file", "train_ver2.csv"}, {"customers", "956645"}};
/// rd.months = {"2016-04-28", "2016-05-28"};
/// rd.customers_per_month = {928274, 931453};
/// rd.additions_per_month = {0, 36012};
/// rd.models.push_back({"als", 0.0251, 0.0289, 0.031, 0.71, 12.5, 0.8});
/// santander_example::write_report(rd, "report.html");   // a temporary beside it, then renamed
/// @endcode
///
/// Every string of the data is HTML-escaped. NaN, infinite or negative values draw as empty bars
/// and print as "n/a" (NaN, infinite) or as they are; no coordinate is ever NaN. Numbers are
/// formatted with std::to_chars, so the page does not depend on the C locale.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/io/atomic_file.hpp"

namespace santander_example {

/// One evaluated model (a row of the metric table).
struct ModelRow {
  std::string name;  ///< "popularity", "als", "clusters", "trees", "blend"
  double map7_all = 0, map7_adders = 0, ndcg3 = 0, recall7 = 0;
  double fit_seconds = 0, predict_seconds = 0;
  /// Blend weight of a component; NaN = not a blend component.
  double weight = std::numeric_limits<double>::quiet_NaN();
};

/// Everything the report shows.
struct ReportData {
  std::string title = "recmix - Santander product recommendation";
  /// Key/value table at the top (data file, rows, customers, split months, load time, ...).
  std::vector<std::pair<std::string, std::string>> facts;
  std::vector<std::string> months;            ///< "2015-01-28", ...
  std::vector<double> customers_per_month;    ///< customers present each month
  std::vector<double> additions_per_month;    ///< product additions (0 for the first month)
  std::vector<std::string> products;          ///< product labels (short), product order
  std::vector<double> holding_share;          ///< share of last-month customers holding each product
  std::vector<double> additions_by_product;   ///< additions of each product over all months
  std::vector<ModelRow> models;
  std::string notes;                          ///< free text paragraph (escaped; newlines kept)
};

namespace report_detail {

// ---- geometry (public so tests can check bar lengths) ----------------------------------------

/// Horizontal bar charts (product popularity, metrics): a bar of value v is
/// v / axis_max * kBarPlotWidth wide, where axis_max is the nice axis end (nice_axis).
inline constexpr double kChartWidth = 720.0;
inline constexpr double kBarLeft = 170.0;       ///< left edge of the bars (labels are left of it)
inline constexpr double kBarRight = 90.0;       ///< room for the value labels
inline constexpr double kBarPlotWidth = kChartWidth - kBarLeft - kBarRight;
inline constexpr double kBarTop = 36.0;
inline constexpr double kBarRow = 20.0;
inline constexpr double kBarHeight = 14.0;
inline constexpr double kBarAxis = 44.0;        ///< below the last row: tick labels and axis title

/// Monthly charts (customers, additions): value axis vertical.
inline constexpr double kMonthLeft = 78.0;
inline constexpr double kMonthRight = 20.0;
inline constexpr double kMonthTop = 36.0;
inline constexpr double kMonthPlotHeight = 220.0;
inline constexpr double kMonthBottom = 70.0;    ///< rotated month labels
inline constexpr double kMonthPlotWidth = kChartWidth - kMonthLeft - kMonthRight;

// ---- text --------------------------------------------------------------------------------------

/// Appends s HTML-escaped (& < > " '); other ASCII control characters but tab and newline
/// become spaces (they are not allowed in HTML).
inline void append_escaped(std::string& out, std::string_view s) {
  for (const char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: {
        const auto u = static_cast<unsigned char>(ch);
        out += (u < 0x20 && ch != '\n' && ch != '\t') || u == 0x7f ? ' ' : ch;
      }
    }
  }
}

inline std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  append_escaped(out, s);
  return out;
}

/// At most max_bytes bytes of s, cut at a UTF-8 character boundary, "..." appended when cut.
inline std::string shorten(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t cut = max_bytes > 3 ? max_bytes - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0u) == 0x80u) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

/// "#i+1": the label of a value that has none. (Built by appending: GCC 12 warns falsely,
/// -Wrestrict, on "#" + std::to_string(...).)
inline std::string numbered(std::size_t i) {
  std::string s(1, '#');
  s += std::to_string(i + 1);
  return s;
}

// ---- numbers -----------------------------------------------------------------------------------

/// v with `decimals` decimals, locale-independent; non-finite reads as 0 and "-0" as "0", so the
/// result is always a valid SVG number.
inline std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) v = 0.0;
  char buf[512];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (r.ec != std::errc()) return "0";
  std::string s(buf, r.ptr);
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("0.", 1) == std::string::npos) s.erase(0, 1);
  return s;
}

/// An SVG coordinate or length (2 decimals).
inline std::string coord(double v) { return fixed(v, 2); }

/// The integer part grouped by thousands: 1234567.5 -> "1,234,567.5"; "n/a" when not finite.
inline std::string grouped(double v, int decimals = 0) {
  if (!std::isfinite(v)) return "n/a";
  const std::string s = fixed(std::abs(v), decimals);
  const std::size_t dot = s.find('.');
  const std::size_t int_end = dot == std::string::npos ? s.size() : dot;
  std::string out;
  if (v < 0 && s.find_first_not_of("0.") != std::string::npos) out += '-';
  for (std::size_t i = 0; i < int_end; ++i) {
    if (i > 0 && (int_end - i) % 3 == 0) out += ',';
    out += s[i];
  }
  out += s.substr(int_end);
  return out;
}

/// The fewest decimals (0..8) that show `step` and its multiples exactly.
inline int decimals_for(double step) {
  if (!std::isfinite(step) || step <= 0) return 0;
  double x = step;
  for (int d = 0; d < 8; ++d, x *= 10.0) {
    if (std::abs(x - std::round(x)) <= 1e-6 * std::max(1.0, std::abs(x))) return d;
  }
  return 8;
}

/// How a chart's values read.
enum class Unit {
  count,    ///< 1,234,567
  share,    ///< a fraction shown as a percentage: 0.1234 -> 12.3%
  metric,   ///< a ranking metric in [0, 1]: 4 decimals
};

/// A value at the end of a bar or in a tooltip.
inline std::string value_text(double v, Unit unit) {
  if (!std::isfinite(v)) return "n/a";
  switch (unit) {
    case Unit::count: return grouped(v, std::abs(v - std::round(v)) < 1e-9 ? 0 : 2);
    case Unit::share: {
      const double p = v * 100.0;
      return fixed(p, p != 0.0 && std::abs(p) < 1.0 ? 2 : 1) + "%";
    }
    case Unit::metric: return fixed(v, 4);
  }
  return "n/a";
}

/// A value axis from 0: ticks at multiples of a 1-2-2.5-5 step, the end the first tick >= max.
struct Axis {
  double max = 1.0;
  double step = 0.2;
  int ticks = 5;  ///< ticks after 0 (the last one is at max)
};

inline Axis nice_axis(double max_value, int target_ticks = 5) {
  const Axis fallback;
  if (!std::isfinite(max_value) || max_value <= 0.0 || target_ticks < 1) return fallback;
  const double raw = max_value / target_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  if (!std::isfinite(raw) || raw <= 0.0 || !std::isfinite(magnitude) || magnitude <= 0.0) return fallback;
  double step = 10.0 * magnitude;
  for (const double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * magnitude >= raw * (1.0 - 1e-9)) {
      step = m * magnitude;
      break;
    }
  }
  Axis a;
  a.ticks = std::max(1, static_cast<int>(std::ceil(max_value / step - 1e-9)));
  a.step = step;
  a.max = step * a.ticks;
  if (!std::isfinite(a.max) || a.max <= 0.0) return fallback;
  return a;
}

/// The largest finite value (0 when none).
inline double finite_max(const std::vector<double>& v) {
  double m = 0.0;
  for (const double x : v) {
    if (std::isfinite(x)) m = std::max(m, x);
  }
  return m;
}

/// A tick label: counts compact (250k, 1.5M), shares as %, metrics with the step's decimals.
inline std::string tick_text(double v, const Axis& axis, Unit unit) {
  if (v == 0.0) return unit == Unit::share ? "0%" : "0";
  switch (unit) {
    case Unit::count:
      if (axis.max >= 1e6) return fixed(v / 1e6, decimals_for(axis.step / 1e6)) + "M";
      if (axis.max >= 1e4) return fixed(v / 1e3, decimals_for(axis.step / 1e3)) + "k";
      return grouped(v, decimals_for(axis.step));
    case Unit::share: return fixed(v * 100.0, decimals_for(axis.step * 100.0)) + "%";
    case Unit::metric: return fixed(v, decimals_for(axis.step));
  }
  return fixed(v, 2);
}

/// Length of a bar of value v on `axis` over `length` pixels; 0 for NaN or negative values,
/// at most `length`.
inline double scaled(double v, const Axis& axis, double length) {
  if (!std::isfinite(v) || v <= 0.0) return 0.0;
  return std::min(v, axis.max) / axis.max * length;
}

// ---- SVG pieces --------------------------------------------------------------------------------

/// Presentation attributes of a text class, so a chart copied out of the page looks the same.
inline std::string text_style(std::string_view cls) {
  std::string a;
  if (cls == "title") a += " font-size=\"13\" font-weight=\"600\"";
  if (cls == "panel") a += " font-size=\"12\" font-weight=\"600\"";
  if (cls.find("best") != std::string_view::npos) a += " font-weight=\"700\"";
  a += cls == "muted" || cls == "axis-title" ? " fill=\"#777\"" : " fill=\"#333\"";
  return a;
}

inline void text(std::string& o, double x, double y, std::string_view s, std::string_view cls = "",
                 std::string_view anchor = "start", std::string_view extra = "") {
  o += "<text";
  if (!cls.empty()) o += " class=\"" + std::string(cls) + "\"";
  o += text_style(cls);
  o += " x=\"" + coord(x) + "\" y=\"" + coord(y) + "\"";
  if (anchor != "start") o += " text-anchor=\"" + std::string(anchor) + "\"";
  if (!extra.empty()) o += " " + std::string(extra);
  o += ">";
  append_escaped(o, s);
  o += "</text>\n";
}

inline void open_svg(std::string& o, double width, double height, std::string_view label) {
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + coord(width) + "\" height=\"" +
       coord(height) + "\" viewBox=\"0 0 " + coord(width) + " " + coord(height) +
       "\" font-family=\"system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\" "
       "aria-label=\"";
  append_escaped(o, label);
  o += "\">\n";
  text(o, 10, 20, label, "title");
}

inline void line(std::string& o, double x1, double y1, double x2, double y2, std::string_view cls) {
  o += "<line class=\"" + std::string(cls) + "\" stroke=\"" + (cls == "grid" ? "#e6e6e6" : "#666") + "\" x1=\"" + coord(x1) + "\" y1=\"" + coord(y1) + "\" x2=\"" + coord(x2) +
       "\" y2=\"" + coord(y2) + "\"/>\n";
}

/// A bar: class "bar" (+ extra classes), data-label for tests and styling, a tooltip.
inline void bar(std::string& o, double x, double y, double w, double h, std::string_view fill, std::string_view label,
                std::string_view tooltip, std::string_view extra_class = "") {
  o += "<rect class=\"bar";
  if (!extra_class.empty()) o += " " + std::string(extra_class);
  o += "\" data-label=\"";
  append_escaped(o, label);
  o += "\" x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" width=\"" + coord(std::max(0.0, w)) + "\" height=\"" +
       coord(std::max(0.0, h)) + "\" fill=\"" + std::string(fill) + "\"";
  if (extra_class == "best") o += " stroke=\"#111\" stroke-width=\"1.5\"";
  o += "><title>";
  append_escaped(o, tooltip);
  o += "</title></rect>\n";
}

inline void no_data(std::string& o, double x, double y) { text(o, x, y, "no data", "muted"); }

/// Vertical grid lines and tick labels of a horizontal value axis from x0 over `length`, the
/// grid spanning [top, bottom]; the axis title under the ticks.
inline void value_axis_x(std::string& o, const Axis& axis, Unit unit, double x0, double length, double top, double bottom,
                         std::string_view title) {
  for (int t = 0; t <= axis.ticks; ++t) {
    const double v = axis.step * t;
    const double x = x0 + length * (t == axis.ticks ? 1.0 : v / axis.max);
    line(o, x, top, x, bottom, t == 0 ? "axis" : "grid");
    line(o, x, bottom, x, bottom + 4, "axis");
    text(o, x, bottom + 16, tick_text(v, axis, unit), "tick", "middle");
  }
  line(o, x0, bottom, x0 + length, bottom, "axis");
  if (!title.empty()) text(o, x0 + length / 2, bottom + 32, title, "axis-title", "middle");
}

// ---- charts ------------------------------------------------------------------------------------

struct Bar {
  std::string label;
  double value = 0.0;
};

/// values[i] labelled labels[i] (or "#i+1"), sorted descending, NaN last; ties keep their order.
inline std::vector<Bar> sorted_bars(const std::vector<std::string>& labels, const std::vector<double>& values) {
  std::vector<Bar> bars;
  bars.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    bars.push_back({i < labels.size() ? labels[i] : numbered(i), values[i]});
  }
  std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
    const bool fa = std::isfinite(a.value), fb = std::isfinite(b.value);
    if (fa != fb) return fa;
    return fa && a.value > b.value;
  });
  return bars;
}

/// Horizontal bars, one row per bar, in the given order.
inline std::string horizontal_bar_chart(std::string_view title, const std::vector<Bar>& bars, Unit unit,
                                        std::string_view axis_title, std::string_view fill) {
  std::string o;
  const double rows = static_cast<double>(std::max<std::size_t>(bars.size(), 1));
  const double bottom = kBarTop + rows * kBarRow;
  open_svg(o, kChartWidth, bottom + kBarAxis, title);
  double max_value = 0.0;
  for (const Bar& b : bars) {
    if (std::isfinite(b.value)) max_value = std::max(max_value, b.value);
  }
  const Axis axis = nice_axis(max_value);
  value_axis_x(o, axis, unit, kBarLeft, kBarPlotWidth, kBarTop - 4, bottom, axis_title);
  if (bars.empty()) no_data(o, kBarLeft + 8, kBarTop + kBarRow * 0.7);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double y = kBarTop + static_cast<double>(i) * kBarRow;
    const double w = scaled(bars[i].value, axis, kBarPlotWidth);
    const std::string value = value_text(bars[i].value, unit);
    text(o, kBarLeft - 6, y + kBarHeight - 3, shorten(bars[i].label, 28), "label", "end");
    bar(o, kBarLeft, y + (kBarRow - kBarHeight) / 2, w, kBarHeight, fill, bars[i].label, bars[i].label + ": " + value);
    text(o, kBarLeft + w + 4, y + kBarHeight - 3, value, "value");
  }
  o += "</svg>\n";
  return o;
}

/// The month labels under a monthly chart (every k-th when there are many), rotated.
inline void month_labels(std::string& o, const std::vector<std::string>& labels, std::size_t n, double band) {
  const double y = kMonthTop + kMonthPlotHeight + 14;
  const std::size_t every = std::max<std::size_t>(1, (n + 17) / 18);
  for (std::size_t i = 0; i < n; i += every) {
    const double x = kMonthLeft + band * (static_cast<double>(i) + 0.5);
    const std::string label = i < labels.size() ? shorten(labels[i], 12) : numbered(i);
    text(o, x, y, label, "tick", "end", "transform=\"rotate(-40 " + coord(x) + " " + coord(y) + ")\"");
  }
}

/// The vertical value axis of a monthly chart: horizontal grid lines and tick labels.
inline void value_axis_y(std::string& o, const Axis& axis, Unit unit) {
  const double bottom = kMonthTop + kMonthPlotHeight;
  for (int t = 0; t <= axis.ticks; ++t) {
    const double v = axis.step * t;
    const double y = bottom - kMonthPlotHeight * (t == axis.ticks ? 1.0 : v / axis.max);
    line(o, kMonthLeft, y, kMonthLeft + kMonthPlotWidth, y, t == 0 ? "axis" : "grid");
    line(o, kMonthLeft - 4, y, kMonthLeft, y, "axis");
    text(o, kMonthLeft - 7, y + 4, tick_text(v, axis, unit), "tick", "end");
  }
  line(o, kMonthLeft, kMonthTop - 4, kMonthLeft, bottom, "axis");
}

/// A value per month, as a line with points (`as_line`) or as vertical bars.
inline std::string month_chart(std::string_view title, const std::vector<std::string>& months,
                               const std::vector<double>& values, std::string_view what, bool as_line,
                               std::string_view colour) {
  std::string o;
  open_svg(o, kChartWidth, kMonthTop + kMonthPlotHeight + kMonthBottom, title);
  const Axis axis = nice_axis(finite_max(values));
  value_axis_y(o, axis, Unit::count);
  const std::size_t n = values.size();
  if (n == 0) {
    no_data(o, kMonthLeft + 8, kMonthTop + 20);
    o += "</svg>\n";
    return o;
  }
  const double band = kMonthPlotWidth / static_cast<double>(n);
  const double bottom = kMonthTop + kMonthPlotHeight;
  auto label_of = [&](std::size_t i) { return i < months.size() ? months[i] : numbered(i); };
  if (as_line) {
    // One polyline per run of finite values, so a NaN month breaks the line.
    std::string points;
    auto flush = [&] {
      if (!points.empty()) {
        o += "<polyline class=\"series\" fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(colour) + "\" points=\"" + points + "\"/>\n";
      }
      points.clear();
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(values[i])) {
        flush();
        continue;
      }
      const double x = kMonthLeft + band * (static_cast<double>(i) + 0.5);
      const double y = bottom - scaled(values[i], axis, kMonthPlotHeight);
      if (!points.empty()) points += ' ';
      points += coord(x) + "," + coord(y);
    }
    flush();
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(values[i])) continue;
      const double x = kMonthLeft + band * (static_cast<double>(i) + 0.5);
      const double y = bottom - scaled(values[i], axis, kMonthPlotHeight);
      o += "<circle class=\"point\" cx=\"" + coord(x) + "\" cy=\"" + coord(y) + "\" r=\"3\" fill=\"" + std::string(colour) +
           "\"><title>";
      append_escaped(o, label_of(i) + ": " + value_text(values[i], Unit::count) + " " + std::string(what));
      o += "</title></circle>\n";
    }
  } else {
    const double w = band * 0.72;
    for (std::size_t i = 0; i < n; ++i) {
      const double h = scaled(values[i], axis, kMonthPlotHeight);
      const double x = kMonthLeft + band * static_cast<double>(i) + (band - w) / 2;
      bar(o, x, bottom - h, w, h, colour, label_of(i),
          label_of(i) + ": " + value_text(values[i], Unit::count) + " " + std::string(what));
    }
  }
  month_labels(o, months, n, band);
  o += "</svg>\n";
  return o;
}

inline constexpr std::string_view kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

inline std::string_view model_colour(std::size_t i) { return kPalette[i % std::size(kPalette)]; }

/// The metrics of the table and the chart, in order.
struct MetricColumn {
  std::string_view name;
  double ModelRow::*field;
};
inline constexpr MetricColumn kMetrics[] = {{"MAP@7 (all)", &ModelRow::map7_all},
                                            {"MAP@7 (adders)", &ModelRow::map7_adders},
                                            {"NDCG@3", &ModelRow::ndcg3},
                                            {"recall@7", &ModelRow::recall7}};

/// Per model, whether it has the best (largest finite, > 0) value of `field`; ties are all best.
inline std::vector<bool> best_of(const std::vector<ModelRow>& models, double ModelRow::*field) {
  double best = -std::numeric_limits<double>::infinity();
  bool any = false;
  for (const ModelRow& m : models) {
    const double v = m.*field;
    if (std::isfinite(v)) {
      best = std::max(best, v);
      any = true;
    }
  }
  std::vector<bool> out(models.size(), false);
  if (!any || best <= 0.0) return out;  // nothing to single out when every model scores 0
  for (std::size_t i = 0; i < models.size(); ++i) {
    const double v = models[i].*field;
    out[i] = std::isfinite(v) && v >= best - 1e-12 * std::max(1.0, std::abs(best));
  }
  return out;
}

/// One panel per metric, each with its own axis; a bar per model in the model's colour; the best
/// model of each metric outlined, bold, "(best)".
inline std::string metric_chart(const std::vector<ModelRow>& models) {
  std::string o;
  constexpr double kHeading = 22.0;
  const double rows = static_cast<double>(std::max<std::size_t>(models.size(), 1));
  const double panel = kHeading + rows * kBarRow + kBarAxis - 8;
  const std::size_t panels = std::size(kMetrics);
  open_svg(o, kChartWidth, kBarTop - 10 + panel * static_cast<double>(panels), "Model comparison on the test month");
  double top = kBarTop - 10;
  for (const MetricColumn& metric : kMetrics) {
    text(o, 10, top + 15, metric.name, "panel");
    const double first = top + kHeading;
    const double bottom = first + rows * kBarRow;
    std::vector<double> values;
    for (const ModelRow& m : models) values.push_back(m.*metric.field);
    const Axis axis = nice_axis(finite_max(values));
    value_axis_x(o, axis, Unit::metric, kBarLeft, kBarPlotWidth, first - 2, bottom, "");
    if (models.empty()) no_data(o, kBarLeft + 8, first + kBarRow * 0.7);
    const std::vector<bool> best = best_of(models, metric.field);
    for (std::size_t i = 0; i < models.size(); ++i) {
      const double y = first + static_cast<double>(i) * kBarRow;
      const double w = scaled(values[i], axis, kBarPlotWidth);
      const std::string value = value_text(values[i], Unit::metric);
      text(o, kBarLeft - 6, y + kBarHeight - 3, shorten(models[i].name, 28), best[i] ? "label best" : "label", "end");
      bar(o, kBarLeft, y + (kBarRow - kBarHeight) / 2, w, kBarHeight, model_colour(i),
          std::string(metric.name) + " / " + models[i].name, models[i].name + " " + std::string(metric.name) + ": " + value,
          best[i] ? "best" : "");
      text(o, kBarLeft + w + 4, y + kBarHeight - 3, best[i] ? value + " (best)" : value, best[i] ? "value best" : "value");
    }
    top += panel;
  }
  o += "</svg>\n";
  return o;
}

// ---- HTML pieces -------------------------------------------------------------------------------

/// Seconds for the table: 3 decimals under 10 s, 1 above; "n/a" when not finite.
inline std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "n/a";
  return fixed(s, std::abs(s) < 10.0 ? 3 : 1);
}

inline std::string facts_table(const std::vector<std::pair<std::string, std::string>>& facts) {
  std::string o = "<table class=\"facts\">\n";
  for (const auto& [key, value] : facts) {
    o += "<tr><th>";
    append_escaped(o, key);
    o += "</th><td>";
    append_escaped(o, value);
    o += "</td></tr>\n";
  }
  o += "</table>\n";
  return o;
}

inline std::string model_table(const std::vector<ModelRow>& models) {
  std::string o = "<table class=\"models\">\n<thead><tr><th>model</th>";
  for (const MetricColumn& metric : kMetrics) o += "<th class=\"num\">" + escape(metric.name) + "</th>";
  o += "<th class=\"num\">fit s</th><th class=\"num\">predict s</th><th class=\"num\">blend weight</th></tr></thead>\n<tbody>\n";
  if (models.empty()) o += "<tr><td colspan=\"8\" class=\"muted\">no models</td></tr>\n";
  std::vector<std::vector<bool>> best;
  for (const MetricColumn& metric : kMetrics) best.push_back(best_of(models, metric.field));
  for (std::size_t i = 0; i < models.size(); ++i) {
    const ModelRow& m = models[i];
    o += "<tr><td><span class=\"swatch\" style=\"background:" + std::string(model_colour(i)) + "\"></span>";
    append_escaped(o, m.name);
    o += "</td>";
    for (std::size_t k = 0; k < std::size(kMetrics); ++k) {
      const double v = m.*kMetrics[k].field;
      o += best[k][i] ? "<td class=\"num best\">" : "<td class=\"num\">";
      o += std::isfinite(v) ? fixed(v, 5) : "n/a";
      o += "</td>";
    }
    o += "<td class=\"num\">" + seconds_text(m.fit_seconds) + "</td><td class=\"num\">" + seconds_text(m.predict_seconds) +
         "</td><td class=\"num\">" + (std::isfinite(m.weight) ? fixed(m.weight, 3) : std::string("-")) + "</td></tr>\n";
  }
  o += "</tbody>\n</table>\n";
  return o;
}

inline constexpr std::string_view kStyle = R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;background:#fff;margin:1.5em auto;max-width:1500px;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.3em}
h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0}
th,td{padding:.25em .8em;border-bottom:1px solid #e6e6e6;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #bbb}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700;background:#fff4c2}
.muted{color:#888}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.45em;border-radius:2px;vertical-align:-1px}
.charts{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
svg.chart{max-width:100%;height:auto;background:#fcfcfc;border:1px solid #eee;border-radius:4px}
svg rect.bar:hover,svg circle.point:hover{opacity:.75}
.notes{white-space:pre-wrap}
footer{margin-top:2em;color:#888;font-size:.85em}
)";

}  // namespace report_detail

/// The whole page.
inline std::string render_html(const ReportData& data) {
  namespace rd = report_detail;
  std::string o;
  o.reserve(64 * 1024);
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  rd::append_escaped(o, data.title);
  o += "</title>\n<style>\n";
  o += rd::kStyle;
  o += "</style>\n</head>\n<body>\n<h1>";
  rd::append_escaped(o, data.title);
  o += "</h1>\n";
  if (!data.facts.empty()) o += "<section>\n<h2>Run</h2>\n" + rd::facts_table(data.facts) + "</section>\n";

  o += "<section>\n<h2>Customers and additions per month</h2>\n<div class=\"charts\">\n";
  o += rd::month_chart("Customers present per month", data.months, data.customers_per_month, "customers", true, "#4e79a7");
  o += rd::month_chart("Product additions per month", data.months, data.additions_per_month, "additions", false, "#f28e2b");
  o += "</div>\n</section>\n";

  o += "<section>\n<h2>Product popularity</h2>\n<div class=\"charts\">\n";
  o += rd::horizontal_bar_chart("Share of last-month customers holding each product",
                                rd::sorted_bars(data.products, data.holding_share), rd::Unit::share,
                                "customers holding the product", "#59a14f");
  o += rd::horizontal_bar_chart("Additions of each product over all months",
                                rd::sorted_bars(data.products, data.additions_by_product), rd::Unit::count, "additions",
                                "#e15759");
  o += "</div>\n</section>\n";

  o += "<section>\n<h2>Models</h2>\n";
  o += rd::model_table(data.models);
  o += "<div class=\"charts\">\n" + rd::metric_chart(data.models) + "</div>\n</section>\n";

  if (!data.notes.empty()) {
    o += "<section>\n<h2>Notes</h2>\n<p class=\"notes\">";
    rd::append_escaped(o, data.notes);
    o += "</p>\n</section>\n";
  }
  o += "<footer>Generated by recmix santander-hybrid. Best value of each metric in bold.</footer>\n</body>\n</html>\n";
  return o;
}

/// Writes render_html(data) to a temporary file beside `file`, then renames it to `file` (so a
/// reader never sees a half-written page). Throws recmix::io_error naming the file when it cannot.
inline void write_report(const ReportData& data, const std::filesystem::path& file) {
  if (file.empty()) throw recmix::io_error("santander report: cannot write '': empty file name");
  const std::string page = render_html(data);
  recmix::io::detail::write_atomically(file, "santander report", [&](std::ostream& out) {
    out.write(page.data(), static_cast<std::streamsize>(page.size()));
  });
}

}  // namespace santander_example
