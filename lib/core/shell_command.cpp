#include "core/shell_command.hpp"

#include <algorithm>
#include <utility>

#include "core/text.hpp"

namespace certwatch {
namespace {

bool plainly_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
}

// A value kept out of the line: the variable that stands for it there.
struct Placeholder {
  std::string name;
  std::string value;
};

class LineBuilder {
 public:
  // The argument as the line shows it.
  std::string word(const ShellArg& arg) {
    if (!arg.value) return shell_quote(arg.text);
    if (shows_as_it_is(*arg.value)) return shell_quote(arg.text + *arg.value);
    // The program's own text before the value is plainly safe or quoted; the shell joins the two.
    const std::string name = placeholder(arg.name, *arg.value);
    return (arg.text.empty() ? "" : shell_quote(arg.text)) + "\"${" + name +
           ":?not set, see the note}\"";
  }

  std::vector<std::string> notes() const {
    std::vector<std::string> out;
    for (const Placeholder& p : placeholders_) {
      out.push_back(p.name + " stands for " + p.value + " (shown escaped: it " +
                    (is_valid_utf8(p.value) ? "holds a control, bidi or invisible character"
                                            : "is not valid UTF-8") +
                    ", which a command line would not show as it is): set " + p.name +
                    " to that value before running the command.");
    }
    return out;
  }

 private:
  // One variable per distinct value: the same value twice (chmod and chown of one key) is one
  // variable; another value under a name already taken gets a number.
  std::string placeholder(std::string_view wanted, const std::string& value) {
    std::string base;
    for (const char c : wanted) {
      const bool word = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      base += word ? c : '_';
    }
    if (base.empty() || (base[0] >= '0' && base[0] <= '9')) base = "VALUE_" + base;
    for (int n = 1;; ++n) {
      const std::string name = n == 1 ? base : base + "_" + std::to_string(n);
      const auto same = std::find_if(placeholders_.begin(), placeholders_.end(),
                                     [&](const Placeholder& p) { return p.name == name; });
      if (same == placeholders_.end()) {
        placeholders_.push_back({name, value});
        return name;
      }
      if (same->value == value) return name;
    }
  }

  std::vector<Placeholder> placeholders_;
};

}  // namespace

ShellArg literal_arg(std::string text) { return {std::move(text), std::nullopt, {}}; }

ShellArg value_arg(std::string name, std::string value, std::string prefix) {
  return {std::move(prefix), std::move(value), std::move(name)};
}

std::string shell_quote(std::string_view arg) {
  if (!arg.empty() && std::all_of(arg.begin(), arg.end(), plainly_safe)) return std::string(arg);
  std::string out = "'";
  for (const char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CommandLine command_line(const std::vector<ShellCommand>& commands) {
  LineBuilder builder;
  CommandLine line;
  for (const ShellCommand& command : commands) {
    std::string text;
    const auto add = [&text](const std::string& word) { text += (text.empty() ? "" : " ") + word; };
    for (const std::string& word : command.program) add(shell_quote(word));
    for (const ShellArg& option : command.options) add(builder.word(option));
    const bool dash = std::any_of(
        command.operands.begin(), command.operands.end(),
        [](const ShellArg& arg) { return (arg.text + arg.value.value_or("")).starts_with('-'); });
    if (dash) add("--");
    for (const ShellArg& operand : command.operands) add(builder.word(operand));
    line.text += (line.text.empty() ? "" : " && ") + text;
  }
  line.notes = builder.notes();
  return line;
}

}  // namespace certwatch
