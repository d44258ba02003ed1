#include "x509/der.hpp"

#include <openssl/x509.h>

#include <climits>
#include <cstddef>
#include <utility>

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

}  // namespace certwatch::x509
