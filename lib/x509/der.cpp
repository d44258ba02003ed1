#include "x509/der.hpp"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <array>
#include <climits>
#include <cstddef>
#include <ctime>
#include <utility>

#include "x509/facts_text.hpp"

namespace certwatch::x509 {

DecodedDer decode_der(std::string_view der) {
  if (der.empty()) return {nullptr, "empty DER"};
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) return {nullptr, "DER too large"};
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = begin;
  openssl::X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert) return {nullptr, "DER does not decode as an X.509 certificate"};
  if (static_cast<std::size_t>(cursor - begin) != der.size()) {
    return {nullptr, "trailing bytes after the certificate's DER"};
  }
  return {std::move(cert), {}};
}

const EVP_MD* fetched_digest(int nid) {
  static constexpr int kFetched[] = {NID_sha1, NID_sha224, NID_sha256, NID_sha384, NID_sha512};
  // Made once, thread-safely, and never changed (nor freed) after: no lock when it is read.
  static const std::array<EVP_MD*, std::size(kFetched)> digests = [] {
    std::array<EVP_MD*, std::size(kFetched)> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = EVP_MD_fetch(nullptr, OBJ_nid2sn(kFetched[i]), nullptr);
    }
    return out;
  }();
  for (std::size_t i = 0; i < digests.size(); ++i) {
    if (kFetched[i] == nid && digests[i] != nullptr) return digests[i];
  }
  return EVP_get_digestbynid(nid);
}

std::optional<std::int64_t> unix_seconds(const ASN1_TIME* time) {
  // ASN1_TIME_to_tm reads the current time when given null, which would be a silent lie here.
  if (time == nullptr) return std::nullopt;
  std::tm parts{};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
  return unix_seconds_of(parts.tm_year + 1900, static_cast<unsigned>(parts.tm_mon + 1),
                         static_cast<unsigned>(parts.tm_mday), parts.tm_hour, parts.tm_min,
                         parts.tm_sec);
}

}  // namespace certwatch::x509
