#include "http/basic_auth.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <memory>

#include "http/web_config.hpp"

namespace certwatch::web {
namespace {

// Plenty for the handful of users a web config has; an attacker cannot grow it, since only
// successful logins are stored.
constexpr std::size_t kMaxCachedVerifications = 256;

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes: drop one per '='.
  std::size_t size = static_cast<std::size_t>(length);
  if (text.ends_with("==")) {
    size -= 2;
  } else if (text.ends_with("=")) {
    size -= 1;
  }
  out.resize(size);
  return out;
}

// crypt_r's output for `password` against `setting` (a full hash); empty on failure.
std::string bcrypt(const std::string& password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const char* hashed = crypt_r(password.c_str(), setting.c_str(), data.get());
  // libxcrypt returns a string starting with '*' on failure instead of null.
  if (hashed == nullptr || hashed[0] == '*') return {};
  return hashed;
}

}  // namespace

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  constexpr std::string_view scheme = "basic ";
  if (header.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return std::nullopt;
  }
  std::string_view encoded = header.substr(scheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  const auto decoded = decode_base64(encoded);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : users_(std::move(users)),
      // 10, the common default, when there are no users (no decoy is then ever needed).
      decoy_cost_(static_cast<unsigned long>(
          users_.empty() ? 10 : bcrypt_cost_of(users_.begin()->second).value_or(10))) {}

const std::string& BasicAuth::decoy_hash() const {
  // Made on first use, on the verifier thread: at cost 14 it takes a second or more, which
  // must never land on the thread that loads configs or serves requests.
  std::call_once(decoy_once_, [this] {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", decoy_cost_, nullptr, 0, salt, sizeof salt) != nullptr) {
      decoy_hash_ = bcrypt("crdb-certwatch unknown user", salt);
    }
  });
  return decoy_hash_;
}

void BasicAuth::keep_verified_from(const BasicAuth& previous) {
  std::vector<Digest> carried;
  {
    std::lock_guard lock(previous.mutex_);
    carried = previous.verified_;
  }
  std::lock_guard lock(mutex_);
  verified_ = std::move(carried);
}

BasicAuth::Digest BasicAuth::cache_key(const BasicCredentials& credentials,
                                       const std::string& hash) const {
  Digest digest{};
  std::string input;
  input.reserve(credentials.user.size() + hash.size() + credentials.password.size() + 2);
  // NUL separators: user names cannot hold one after base64 decoding into C strings anyway,
  // and they keep ("ab","c") and ("a","bc") apart.
  input.append(credentials.user).push_back('\0');
  input.append(hash).push_back('\0');
  input.append(credentials.password);
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  return digest;
}

bool BasicAuth::known_good(const BasicCredentials& credentials) const {
  const auto user = users_.find(credentials.user);
  if (user == users_.end()) return false;
  const Digest key = cache_key(credentials, user->second);
  std::lock_guard lock(mutex_);
  bool found = false;
  // Every entry is compared, in constant time, so timing says nothing about near misses.
  for (const Digest& entry : verified_) {
    found |= CRYPTO_memcmp(entry.data(), key.data(), key.size()) == 0;
  }
  return found;
}

bool BasicAuth::verify(const BasicCredentials& credentials) {
  if (known_good(credentials)) return true;
  const auto user = users_.find(credentials.user);
  // An unknown user pays one bcrypt at the configured users' cost, so response time does not
  // tell which user names exist.
  const std::string& hash = user == users_.end() ? decoy_hash() : user->second;
  if (hash.empty()) return false;
  // A password with a NUL cannot be passed to crypt_r; it can never match.
  if (credentials.password.find('\0') != std::string::npos) return false;
  const std::string computed = bcrypt(credentials.password, hash);
  const bool match = user != users_.end() && !computed.empty() && computed.size() == hash.size() &&
                     CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
  if (match) {
    const Digest key = cache_key(credentials, hash);
    std::lock_guard lock(mutex_);
    if (verified_.size() >= kMaxCachedVerifications) verified_.clear();
    verified_.push_back(key);
  }
  return match;
}

}  // namespace certwatch::web
