// Internal to the x509 module: how both parse paths (the DER reader and the OpenSSL decode) turn
// raw values into the text and numbers of CertificateFacts, so the two cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certwatch::x509 {

std::string to_lower_hex(std::string_view bytes);

// ASCII letters lowered; other bytes kept.
std::string lowercase(std::string_view text);

// Lowercase hex of the DER's SHA-256; nullopt when the digest fails.
std::optional<std::string> sha256_hex(std::string_view der);

// An INTEGER's magnitude bytes (big-endian) as lowercase hex without leading zeros ("0" for
// zero), "-" in front when negative.
std::string serial_text(std::string_view magnitude, bool negative);

// Unix seconds of a UTC calendar time; nullopt when the date does not exist. Calendar arithmetic
// instead of timegm: no time_t range or errno ambiguity for years such as 1950 or 9999.
std::optional<std::int64_t> unix_seconds_of(int year, unsigned month, unsigned day, int hour,
                                            int minute, int second);

// The text of an iPAddress SAN entry: 4 or 16 bytes; nullopt otherwise (name-constraint ranges
// are 8 or 32 bytes).
std::optional<std::string> ip_address_text(std::string_view raw);

}  // namespace certwatch::x509
