// Text as people and parsers read it, shared by every output: times for the status page and
// `check`, and the one escaping that makes any bytes (a file name, a certificate subject, a
// database row) safe in a label value, a JSON string, an HTML page or a terminal. Pure, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace certwatch {

// The two largest non-zero units of a duration: "29d 23h", "-2d 1h", "5m 3s", "1d", "0s".
std::string human_duration(double seconds);

// Unix seconds as UTC in a strftime format, e.g. "%Y-%m-%dT%H:%M:%SZ".
std::string utc_time(std::int64_t unix_seconds, const char* format);

// Whether `text` is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequences.
bool is_valid_utf8(std::string_view text);

// Prometheus, JSON and browsers accept only valid UTF-8, so one stray byte in a file name would
// make the whole scrape or document unreadable. This turns any bytes into valid UTF-8 that reads
// back to the same bytes:
//   - each byte that is not part of a valid UTF-8 sequence becomes `\xNN` (lowercase hex);
//   - a backslash becomes `\\` only when the next input byte is `x`, a backslash, or itself
//     escaped, so that it cannot be mistaken for part of an escape;
//   - everything else (valid UTF-8, a lone backslash as in a Windows path) passes unchanged.
// Ordinary names therefore look exactly as on disk. unescape_bytes() reverses it.
std::string escape_invalid_utf8(std::string_view bytes);
// The same in place; leaves `text` untouched (no copy) when nothing needs escaping.
void escape_invalid_utf8_in_place(std::string& text);

// escape_invalid_utf8, and control characters as well (C0 0x00-0x1f, DEL 0x7f, C1 U+0080..U+009F)
// and the invisible and format characters (bidi embeddings, overrides and isolates such as
// U+202E, zero-width characters, U+2028/U+2029, tags, variation selectors, the blank letters),
// each byte of them as `\xNN`: for text a terminal or a page shows, where ESC sequences would
// retitle the window or recolour it, a newline would break a row, and a bidi override would show
// "client.crt.exe" as something else. Same scheme, so unescape_bytes() reverses it too.
std::string escape_for_display(std::string_view bytes);
// Whether escape_for_display leaves `bytes` unchanged: valid UTF-8 without controls or
// invisible characters, and no backslash it would double (before `x` or another backslash), so
// what a page or terminal shows is exactly these bytes.
bool shows_as_it_is(std::string_view bytes);

// escape_for_display, then safe inside HTML text and attribute values (& < > " ' as entities):
// every piece of text the status page and the audit report show passes here.
std::string escape_html(std::string_view raw);

// escape_for_display, then safe inside a Markdown table cell: every character CommonMark or a
// GFM table gives a meaning (emphasis, links, raw HTML, entities, cell breaks) is
// backslash-escaped, so a file name renders as itself and never as markup.
std::string escape_markdown(std::string_view raw);

// `text` without leading and trailing ASCII whitespace (space, tab, CR, LF, FF, VT).
std::string_view trim_whitespace(std::string_view text);

// The inverse of both escapes: `\\` -> `\`, `\xNN` -> the byte, any other backslash -> itself.
std::string unescape_bytes(std::string_view escaped);

}  // namespace certwatch
