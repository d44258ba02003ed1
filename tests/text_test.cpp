// core/text: the one escaping every output uses for bytes it does not control (file names,
// certificate subjects), judged on tables of UTF-8's edge cases and on thousands of random byte
// strings that must all come back unchanged.
#include "core/text.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/parallel.hpp"

namespace {

using certwatch::escape_for_display;
using certwatch::escape_invalid_utf8;
using certwatch::escape_invalid_utf8_in_place;
using certwatch::is_valid_utf8;
using certwatch::unescape_bytes;
using namespace std::string_literals;

// A control character a terminal would act on: C0, DEL, or C1 in its UTF-8 form.
bool has_control_character(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) return true;
    if (byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      return true;
    }
  }
  return false;
}

// Random bytes, drawn mostly from the bytes that matter here: the backslash and `x` of the escape
// syntax, lead and continuation bytes, controls; sometimes any byte at all.
std::string random_bytes(std::mt19937& random) {
  static const std::string kInteresting =
      "\\x\\x09af\x1b\n\x7f\xc2\x80\x9f\xa0\xbf\xc0\xc1\xe0\xed\xef\xf0\xf4\xf5\xff "s + "\0"s;
  std::uniform_int_distribution<std::size_t> length(0, 24);
  std::uniform_int_distribution<int> any_byte(0, 255);
  std::uniform_int_distribution<std::size_t> pick(0, kInteresting.size() - 1);
  std::bernoulli_distribution interesting(0.7);
  std::string out(length(random), '\0');
  for (char& c : out) {
    c = interesting(random) ? kInteresting[pick(random)] : static_cast<char>(any_byte(random));
  }
  return out;
}

}  // namespace

TEST_CASE("is_valid_utf8 accepts well-formed UTF-8 and nothing else", "[text]") {
  const std::vector<std::string> valid{"",
                                       "node.crt",
                                       "\x7f",
                                       "\xc2\x80",
                                       "\xc3\xa9",
                                       "\xdf\xbf",
                                       "\xe0\xa0\x80",
                                       "\xe2\x82\xac",
                                       "\xed\x9f\xbf",  // U+D7FF, the last before the surrogates
                                       "\xee\x80\x80",  // U+E000, the first after them
                                       "\xef\xbf\xbf",
                                       "\xf0\x90\x80\x80",
                                       "\xf4\x8f\xbf\xbf",  // U+10FFFF
                                       "\0"s};
  for (const std::string& text : valid) {
    INFO(escape_invalid_utf8(text));
    CHECK(is_valid_utf8(text));
  }
  const std::vector<std::string> invalid{"\xff",
                                         "\xfe",
                                         "\x80",
                                         "\xbf",  // never a lead byte
                                         "\xc0\xaf",
                                         "\xc1\xbf",  // overlong two-byte forms of '/' and DEL
                                         "\xe0\x80\xaf",
                                         "\xe0\x9f\xbf",  // overlong three-byte forms
                                         "\xf0\x80\x80\xaf",
                                         "\xf0\x8f\xbf\xbf",  // overlong four-byte forms
                                         "\xed\xa0\x80",
                                         "\xed\xbf\xbf",  // surrogates U+D800, U+DFFF
                                         "\xf4\x90\x80\x80",
                                         "\xf5\x80\x80\x80",  // past U+10FFFF
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xf0\x9f\x98",  // truncated at the end
                                         "\xc3x",
                                         "\xe2\x82x",
                                         "\xf0\x9f\x98x",  // truncated by an ASCII byte
                                         "ok\xc3\xa9\xff"};
  for (const std::string& text : invalid) {
    INFO(escape_invalid_utf8(text));
    CHECK_FALSE(is_valid_utf8(text));
  }
}

TEST_CASE("escape_invalid_utf8 writes stray bytes as lowercase hex and leaves names alone",
          "[text]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"node.crt", "node.crt"},
      {"client.\xc3\xa9mile.crt", "client.\xc3\xa9mile.crt"},
      {"client.\xff\xfe.crt", R"(client.\xff\xfe.crt)"},
      {"\xc0\xaf", R"(\xc0\xaf)"},
      {"\xed\xa0\x80", R"(\xed\xa0\x80)"},
      {"\xf4\x90\x80\x80", R"(\xf4\x90\x80\x80)"},
      {"cut \xe2\x82", R"(cut \xe2\x82)"},
      {"\xe2\x82\xac \xe2\x82",
       "\xe2\x82\xac "
       R"(\xe2\x82)"},
      // A lone backslash stays, as in a Windows path; it is doubled only where it would read as
      // part of an escape: before `x`, another backslash, or an escaped byte.
      {R"(C:\certs\node.crt)", R"(C:\certs\node.crt)"},
      {R"(trailing\)", R"(trailing\)"},
      {R"(\xff as text)", R"(\\xff as text)"},
      {R"(two \\ here)", R"(two \\\ here)"},
      {"\\\xff", R"(\\\xff)"},
      // Controls are valid UTF-8: this escape leaves them to the output's own syntax (JSON).
      {"\x1b]0;x\x07\n", "\x1b]0;x\x07\n"},
      {"\\\x1b", "\\\x1b"},
  };
  for (const auto& [input, expected] : cases) {
    INFO(expected);
    CHECK(escape_invalid_utf8(input) == expected);
    CHECK(unescape_bytes(expected) == input);
    std::string in_place = input;
    escape_invalid_utf8_in_place(in_place);
    CHECK(in_place == expected);
  }
}

TEST_CASE("escape_for_display also shows control characters as escapes", "[text]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"node", "node"},
      {"\x1b]0;x\x07", R"(\x1b]0;x\x07)"},
      {"two\nlines\r", R"(two\x0alines\x0d)"},
      {"del\x7f", R"(del\x7f)"},
      {"nel\xc2\x85 csi\xc2\x9b", R"(nel\xc2\x85 csi\xc2\x9b)"},
      {"nbsp\xc2\xa0", "nbsp\xc2\xa0"},  // U+00A0 is printable: unchanged
      {"\\\n", R"(\\\x0a)"},
      {"\\\xc2\xa0", "\\\xc2\xa0"},
      {"bad \xff\n", R"(bad \xff\x0a)"},
  };
  for (const auto& [input, expected] : cases) {
    INFO(expected);
    CHECK(escape_for_display(input) == expected);
    CHECK(unescape_bytes(expected) == input);
  }
}

TEST_CASE("escape_for_display shows bidi, format and invisible characters as escapes", "[text]") {
  // Each as UTF-8, with the code point's name: the whole class, first and last of each range.
  const std::vector<std::pair<std::string, std::string>> escaped{
      {"\u202a", "LRE"},       {"\u202b", "RLE"},
      {"\u202c", "PDF"},       {"\u202d", "LRO"},
      {"\u202e", "RLO"},       {"\u2066", "LRI"},
      {"\u2067", "RLI"},       {"\u2068", "FSI"},
      {"\u2069", "PDI"},       {"\u200b", "ZWSP"},
      {"\u200e", "LRM"},       {"\u200f", "RLM"},
      {"\u061c", "ALM"},       {"\u2028", "LS"},
      {"\u2029", "PS"},        {"\u2060", "WJ"},
      {"\ufeff", "BOM"},       {"\u00ad", "SHY"},
      {"\u3164", "filler"},    {"\ufe0f", "VS16"},
      {"\U000e0041", "tag A"}, {"\U000e007f", "cancel tag"},
      {"\u180e", "MVS"},       {"\u034f", "CGJ"},
  };
  for (const auto& [character, name] : escaped) {
    INFO(name);
    const std::string text = "client." + character + "txt.crt";
    const std::string shown = escape_for_display(text);
    CHECK(shown != text);
    CHECK(shown.find(character) == std::string::npos);
    CHECK(unescape_bytes(shown) == text);
    CHECK_FALSE(certwatch::shows_as_it_is(text));
    // Data outputs (labels, JSON) keep the character: it is valid UTF-8.
    CHECK(escape_invalid_utf8(text) == text);
  }
  CHECK(escape_for_display("a\u202eb") == R"(a\xe2\x80\xaeb)");
  // Printable text beyond ASCII is left alone: letters, CJK, emoji, a no-break space.
  for (const std::string text :
       {"n\u00e9ud", "\u8282\u70b9", "\U0001f512", "a\u00a0b", "\u05e9\u05dc\u05d5\u05dd"}) {
    CHECK(escape_for_display(text) == text);
    CHECK(certwatch::shows_as_it_is(text));
  }
  CHECK(certwatch::shows_as_it_is(R"(C:\dir)"));
  CHECK_FALSE(certwatch::shows_as_it_is(R"(a\xb)"));  // shown as a\\xb
  CHECK_FALSE(certwatch::shows_as_it_is("tab\there"));
  CHECK_FALSE(certwatch::shows_as_it_is("bad\xff"));
}

TEST_CASE("unescape_bytes keeps a backslash that starts no escape", "[text]") {
  CHECK(unescape_bytes(R"(\xzz)") == R"(\xzz)");
  CHECK(unescape_bytes(R"(\x4)") == R"(\x4)");
  CHECK(unescape_bytes(R"(end\)") == R"(end\)");
  CHECK(unescape_bytes(R"(\n)") == R"(\n)");
  CHECK(unescape_bytes(R"(\x41\\\\)") == R"(A\\)");
}

TEST_CASE("Every random byte string escapes to valid UTF-8 and decodes back to itself", "[text]") {
  std::mt19937 random(20240611);  // fixed: a failure reproduces
  std::size_t changed = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string bytes = random_bytes(random);
    const std::string escaped = escape_invalid_utf8(bytes);
    const std::string shown = escape_for_display(bytes);
    INFO("input escaped for display: " << escape_for_display(bytes));
    REQUIRE(is_valid_utf8(escaped));
    REQUIRE(unescape_bytes(escaped) == bytes);
    REQUIRE(is_valid_utf8(shown));
    REQUIRE_FALSE(has_control_character(shown));
    REQUIRE(unescape_bytes(shown) == bytes);
    std::string in_place = bytes;
    escape_invalid_utf8_in_place(in_place);
    REQUIRE(in_place == escaped);
    // Valid UTF-8 without a backslash is never touched.
    if (is_valid_utf8(bytes) && bytes.find('\\') == std::string::npos) REQUIRE(escaped == bytes);
    changed += escaped != bytes ? 1 : 0;
  }
  // The generator does reach the cases that matter.
  CHECK(changed > 10000);
}

TEST_CASE("parallel_for runs every item exactly once, and passes on an exception", "[parallel]") {
  for (const std::size_t count : {0UL, 1UL, 7UL, 255UL, 1000UL, 4099UL}) {
    std::vector<std::atomic<int>> seen(count);
    std::mutex threads_mutex;
    std::set<std::thread::id> threads;
    certwatch::parallel_for(count, 16, 4, [&](std::size_t i) {
      seen[i].fetch_add(1);
      const std::lock_guard lock(threads_mutex);
      threads.insert(std::this_thread::get_id());
    });
    for (std::size_t i = 0; i < count; ++i) REQUIRE(seen[i].load() == 1);
    // Below the per-thread minimum the caller's thread does it all.
    if (count < 32) CHECK(threads.size() <= 1);
    CHECK(threads.size() <= std::min<std::size_t>(4, certwatch::usable_cores()));
  }
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH(certwatch::parallel_for(2000, 16, 4,
                                            [&](std::size_t i) {
                                              ran.fetch_add(1);
                                              if (i == 100) throw std::runtime_error("item 100");
                                            }),
                    "item 100");
  CHECK(ran.load() < 2000);  // the items after the failure are skipped
}
