// HTTP basic authentication against bcrypt hashes (exporter-toolkit's basic_auth_users).
// A bcrypt check costs tens of milliseconds by design, so successful verifications are cached:
// keyed by a SHA-256 of user, stored hash and password (never the password itself), compared in
// constant time. Constructing one does no bcrypt work (it runs on the thread that loads configs).
// Thread-safety: every method may be called from any thread.
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
  // Takes over the verifications `previous` cached, so a reload does not send every scraper
  // back through bcrypt. Entries are keyed by the stored hash too: a changed or removed user's
  // entries can never match here.
  void keep_verified_from(const BasicAuth& previous);

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest cache_key(const BasicCredentials& credentials, const std::string& hash) const;

  // bcrypt of nothing in particular at the users' cost, checked against for unknown users.
  const std::string& decoy_hash() const;

  std::map<std::string, std::string> users_;
  unsigned long decoy_cost_;
  mutable std::once_flag decoy_once_;
  mutable std::string decoy_hash_;
  mutable std::mutex mutex_;
  std::vector<Digest> verified_;  // bounded; cleared when full
};

}  // namespace certwatch::web
