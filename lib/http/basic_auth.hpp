// HTTP basic authentication against bcrypt hashes (exporter-toolkit's basic_auth_users).
// A bcrypt check costs tens of milliseconds by design, so successful verifications are cached:
// keyed by a SHA-256 of user, stored hash and password (never the password itself), compared in
// constant time. Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch::web {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// Decodes an `Authorization: Basic <base64(user:password)>` value; nullopt when malformed.
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

class BasicAuth {
 public:
  // users: user -> bcrypt hash ($2a$, $2b$ or $2y$, as htpasswd -B makes).
  explicit BasicAuth(std::map<std::string, std::string> users);
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // True when these credentials were verified before (cheap; no bcrypt).
  bool known_good(const BasicCredentials& credentials) const;
  // Full check with bcrypt (slow: run it off the event loop); caches a success. Unknown users
  // cost a bcrypt run too, so timing does not tell which user names exist.
  bool verify(const BasicCredentials& credentials);

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest cache_key(const BasicCredentials& credentials, const std::string& hash) const;

  std::map<std::string, std::string> users_;
  std::string dummy_hash_;  // bcrypt of nothing in particular, for unknown users
  mutable std::mutex mutex_;
  std::vector<Digest> verified_;  // bounded; cleared when full
};

}  // namespace certwatch::web
