// The one way any output (the status page, `check`, the audit, alerts) builds a command line that
// an operator pastes into a shell. File names, SANs and user names come from disk or from a
// server on the network and hold any bytes: `client.$(touch x).crt` or a SAN `x;rm -rf ~;#` must
// reach the command as one argument, never as shell syntax. So every argument is quoted (POSIX
// single quotes, none when the argument is plainly safe), and a value no quoting can show safely
// (control characters, bidi overrides and other invisible characters, bytes that are not UTF-8:
// what the line shows would not be what the shell runs) stays out of the line: the line names a
// shell variable instead, `"${KEY_FILE:?...}"`, which stops the command when unset, and a note
// shows the value escaped and says why. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch {

// One argument: text of the program's own (a flag, a mode) and, when `value` is set, a value
// from outside appended to it (`--certs-dir=` + a directory). `name` is the shell variable that
// stands for the value when it cannot be shown.
struct ShellArg {
  std::string text;
  std::optional<std::string> value;
  std::string name;
};

// The program's own text: "--overwrite", "0600".
ShellArg literal_arg(std::string text);
// A value from outside, after the program's own `prefix`: value_arg("KEY_FILE", path),
// value_arg("CERTS_DIR", dir, "--certs-dir=").
ShellArg value_arg(std::string name, std::string value, std::string prefix = {});

// One command: the program and its subcommands (the program's own words), options, then
// operands. When an operand from outside starts with '-', `--` goes before the operands, so that
// a file named `-rf` is not read as options.
struct ShellCommand {
  std::vector<std::string> program;  // e.g. {"cockroach", "cert", "create-node"}
  std::vector<ShellArg> options;
  std::vector<ShellArg> operands;
};

struct CommandLine {
  std::string text;  // the line to paste: the commands joined by " && "
  // One per value kept out of the line: "KEY_FILE stands for <the value> (shown escaped: ...)".
  // The value is as it is: like every other text, a note is escaped where it is shown (HTML,
  // a terminal), which shows the value escaped.
  std::vector<std::string> notes;
};

// The line for `commands` (run in order, each only when the one before succeeded).
CommandLine command_line(const std::vector<ShellCommand>& commands);

// One argument as the shell reads it back to exactly `arg`: unchanged when it holds only
// characters no shell gives a meaning ([A-Za-z0-9] and @%+=:,./_- , not empty), else in single
// quotes with each ' written as '\''.
std::string shell_quote(std::string_view arg);

}  // namespace certwatch
