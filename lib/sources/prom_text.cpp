#include "sources/prom_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "core/text.hpp"

namespace certwatch::sources {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_label_start(char c) { return is_name_start(c) && c != ':'; }
bool is_label_char(char c) { return is_name_char(c) && c != ':'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

// A short, printable excerpt of what was found, for the error message.
std::string shown(std::string_view text) {
  constexpr std::size_t kShown = 40;
  std::string out = escape_for_display(text.substr(0, kShown));
  if (text.size() > kShown) out += "...";
  return "\"" + out + "\"";
}

// One line at a time; every method returns false with message_ set at the first fault.
class LineReader {
 public:
  LineReader(std::string_view line, const PromLimits& limits) : line_(line), limits_(limits) {}

  const std::string& message() const { return message_; }

  void skip_blanks() {
    while (pos_ < line_.size() && is_blank(line_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ == line_.size(); }

  bool metric_name(std::string_view& out) {
    const std::size_t start = pos_;
    if (pos_ >= line_.size() || !is_name_start(line_[pos_])) {
      return fail("expected a metric name, found " + shown(line_.substr(start)));
    }
    while (pos_ < line_.size() && is_name_char(line_[pos_])) ++pos_;
    out = line_.substr(start, pos_ - start);
    return true;
  }

  // `{name="value",...}` (a trailing comma allowed, as Prometheus's own parser allows).
  bool labels(LabelPairs* out) {
    const std::size_t name_end = pos_;
    skip_blanks();  // `name {` is allowed, as Prometheus's own reader allows it
    if (pos_ >= line_.size() || line_[pos_] != '{') {
      pos_ = name_end;
      return true;
    }
    ++pos_;
    // At most max_labels names: a linear scan costs less than a set per line.
    std::vector<std::string_view> names;
    for (;;) {
      skip_blanks();
      if (pos_ < line_.size() && line_[pos_] == '}') {
        ++pos_;
        return true;
      }
      const std::size_t start = pos_;
      if (pos_ >= line_.size() || !is_label_start(line_[pos_])) {
        return fail("expected a label name or }, found " + shown(line_.substr(start)));
      }
      while (pos_ < line_.size() && is_label_char(line_[pos_])) ++pos_;
      const std::string_view name = line_.substr(start, pos_ - start);
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        return fail("label " + std::string(name) + " given twice");
      }
      names.push_back(name);
      if (names.size() > limits_.max_labels) {
        return fail("more than " + std::to_string(limits_.max_labels) + " labels");
      }
      skip_blanks();
      if (pos_ >= line_.size() || line_[pos_] != '=') return fail("expected = after a label name");
      ++pos_;
      skip_blanks();
      value_.clear();
      if (!quoted(value_)) return false;
      std::string value = out != nullptr ? value_ : std::string();
      if (out != nullptr) out->emplace_back(std::string(name), std::move(value));
      skip_blanks();
      if (pos_ < line_.size() && line_[pos_] == ',') {
        ++pos_;
      } else if (pos_ >= line_.size() || line_[pos_] != '}') {
        return fail("expected , or } after a label value");
      }
    }
  }

  // The sample value and the optional timestamp, then the end of the line.
  bool value_and_timestamp(double& value) {
    if (!blank_separated()) return fail("expected a blank before the value");
    if (!number(value)) return false;
    if (at_end()) return true;
    if (!blank_separated()) return fail("unexpected text after the value");
    if (at_end()) return true;
    const std::size_t start = pos_;
    while (pos_ < line_.size() && !is_blank(line_[pos_])) ++pos_;
    const std::string_view text = line_.substr(start, pos_ - start);
    std::int64_t timestamp = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), timestamp);
    if (error != std::errc{} || end != text.data() + text.size()) {
      return fail("the timestamp " + shown(text) + " is no integer");
    }
    skip_blanks();
    if (!at_end()) return fail("unexpected text after the timestamp");
    return true;
  }

 private:
  bool fail(std::string message) {
    message_ = std::move(message);
    return false;
  }

  bool blank_separated() {
    if (pos_ >= line_.size() || !is_blank(line_[pos_])) return false;
    skip_blanks();
    return true;
  }

  bool quoted(std::string& out) {
    if (pos_ >= line_.size() || line_[pos_] != '"') return fail("expected a quoted label value");
    ++pos_;
    while (pos_ < line_.size()) {
      const char c = line_[pos_++];
      if (c == '"') {
        if (!is_valid_utf8(out)) return fail("a label value is not valid UTF-8");
        return true;
      }
      if (c == '\\') {
        if (pos_ >= line_.size()) break;
        const char escaped = line_[pos_++];
        if (escaped == '\\' || escaped == '"') {
          out += escaped;
        } else if (escaped == 'n') {
          out += '\n';
        } else {
          return fail("unknown escape \\" + escape_for_display(std::string_view(&escaped, 1)) +
                      " in a label value");
        }
      } else {
        out += c;
      }
      if (out.size() > limits_.max_label_value_bytes) {
        return fail("a label value longer than " + std::to_string(limits_.max_label_value_bytes) +
                    " bytes");
      }
    }
    return fail("a label value is not closed");
  }

  // Go's ParseFloat spellings that the format uses: decimal and exponent forms, NaN, +Inf, -Inf.
  bool number(double& value) {
    const std::size_t start = pos_;
    while (pos_ < line_.size() && !is_blank(line_[pos_])) ++pos_;
    std::string_view text = line_.substr(start, pos_ - start);
    if (text == "NaN" || text == "Nan" || text == "nan") {
      value = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    if (text == "+Inf" || text == "Inf" || text == "+inf" || text == "inf") {
      value = std::numeric_limits<double>::infinity();
      return true;
    }
    if (text == "-Inf" || text == "-inf") {
      value = -std::numeric_limits<double>::infinity();
      return true;
    }
    if (text.starts_with('+')) text.remove_prefix(1);
    // from_chars would also take "inf" and "nan" spelled otherwise, and nothing else does.
    const bool numeric = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
    });
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!numeric || error != std::errc{} || end != text.data() + text.size()) {
      return fail("the value " + shown(line_.substr(start, pos_ - start)) + " is no number");
    }
    return true;
  }

  std::string_view line_;
  const PromLimits& limits_;
  std::string value_;  // the label value being read, reused across labels
  std::size_t pos_ = 0;
  std::string message_;
};

constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};

// `# HELP name text`, `# TYPE name type`, or any other comment. Returns the family a HELP or
// TYPE line names (empty for another comment), or nullopt with `error` set.
std::optional<std::string_view> comment(std::string_view line, std::string& error) {
  std::string_view rest = line.substr(1);
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  const bool help = rest.starts_with("HELP") && (rest.size() == 4 || is_blank(rest[4]));
  const bool type = rest.starts_with("TYPE") && (rest.size() == 4 || is_blank(rest[4]));
  if (!help && !type) return std::string_view{};
  rest.remove_prefix(4);
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  std::size_t n = 0;
  if (rest.empty() || !is_name_start(rest.front())) {
    error = std::string(help ? "HELP" : "TYPE") + " without a metric name";
    return std::nullopt;
  }
  while (n < rest.size() && is_name_char(rest[n])) ++n;
  const std::string_view name = rest.substr(0, n);
  if (n < rest.size() && !is_blank(rest[n])) {
    error = "a bad metric name in " + std::string(help ? "HELP" : "TYPE") + ": " + shown(rest);
    return std::nullopt;
  }
  std::string_view text = rest.substr(n);
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  if (type && std::find(std::begin(kTypes), std::end(kTypes), text) == std::end(kTypes)) {
    error = "unknown metric type " + shown(text) + " for " + std::string(name);
    return std::nullopt;
  }
  if (help && !is_valid_utf8(text)) {
    error = "the HELP text of " + std::string(name) + " is not valid UTF-8";
    return std::nullopt;
  }
  return name;
}

}  // namespace

PromParse parse_prom_text(std::string_view body, const std::vector<std::string_view>& keep,
                          const PromLimits& limits) {
  PromParse out;
  const auto failed = [&](std::size_t line, const std::string& message) {
    PromParse error;
    error.lines = line;
    error.error = "line " + std::to_string(line) + ": " + message;
    return error;
  };
  const auto kept = [&](std::string_view name) {
    return std::find(keep.begin(), keep.end(), name) != keep.end();
  };
  std::set<std::string_view> seen;
  // Series of the kept families, to refuse a duplicate (two values for one user).
  std::set<std::pair<std::string, LabelPairs>> series;
  if (!body.empty() && body.back() != '\n') {
    const std::size_t lines = static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n'));
    return failed(lines + 1, "truncated: the body does not end with a newline");
  }
  std::size_t number = 0;
  for (std::size_t start = 0; start < body.size();) {
    const std::size_t end = body.find('\n', start);  // found: the body ends with one
    std::string_view line = body.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.size() > limits.max_line_bytes) {
      return failed(number, "longer than " + std::to_string(limits.max_line_bytes) + " bytes");
    }
    if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF: tolerated, as Prometheus does not
    if (line.find_first_of(std::string_view("\0\r", 2)) != std::string_view::npos) {
      return failed(number, "a NUL or CR byte inside the line");
    }
    std::string_view trimmed = line;
    while (!trimmed.empty() && is_blank(trimmed.front())) trimmed.remove_prefix(1);
    if (trimmed.empty()) continue;
    if (trimmed.front() == '#') {
      std::string error;
      const auto family = comment(trimmed, error);
      if (!family) return failed(number, error);
      if (!family->empty() && kept(*family)) seen.insert(*family);
      continue;
    }
    LineReader reader(trimmed, limits);
    std::string_view name;
    if (!reader.metric_name(name)) return failed(number, reader.message());
    const bool keep_it = kept(name);
    LabelPairs labels;
    if (!reader.labels(keep_it ? &labels : nullptr)) return failed(number, reader.message());
    double value = 0;
    if (!reader.value_and_timestamp(value)) return failed(number, reader.message());
    if (!keep_it) continue;
    seen.insert(name);
    if (out.samples.size() >= limits.max_kept_samples) {
      return failed(number, "more than " + std::to_string(limits.max_kept_samples) +
                                " samples of the certificate families");
    }
    LabelPairs sorted = labels;
    std::sort(sorted.begin(), sorted.end());
    if (!series.emplace(std::string(name), std::move(sorted)).second) {
      return failed(number, "the same series twice (" + std::string(name) + ")");
    }
    out.samples.push_back({std::string(name), std::move(labels), value});
  }
  out.lines = number;
  for (std::string_view family : keep) {
    if (seen.contains(family)) out.families_seen.emplace_back(family);
  }
  return out;
}

}  // namespace certwatch::sources
