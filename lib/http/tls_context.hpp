// asio::ssl contexts made from a TlsServerConfig (OpenSSL linked directly), and a holder that
// rebuilds the context when the certificate, key or client CA files change, so rotating the
// exporter's own certificate needs no restart.
#pragma once

#include <sys/types.h>

#include <boost/asio/ssl/context.hpp>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/file_identity.hpp"
#include "http/web_config.hpp"

namespace certwatch::web {

struct TlsBuildResult {
  std::shared_ptr<boost::asio::ssl::context> context;  // null on failure
  std::string key;    // the tls_server_config key at fault ("cert_file", ...) on failure
  std::string error;  // why, naming the file
};

// Reads the files now and builds a server context: versions, suites, curves, client auth.
TlsBuildResult build_ssl_context(const TlsServerConfig& config);

// Thread-safety: not thread-safe; used from the io_context's thread only.
class TlsContextSource {
 public:
  // `initial` is a context already built from `config` (by build_ssl_context).
  TlsContextSource(TlsServerConfig config, std::shared_ptr<boost::asio::ssl::context> initial);
  TlsContextSource(const TlsContextSource&) = delete;
  TlsContextSource& operator=(const TlsContextSource&) = delete;

  // The context for a new connection. Costs a stat() per file; rebuilds when any file's
  // identity (device, inode, size, mtime, ctime) changed. A failed rebuild (say, the key is
  // replaced a moment after the certificate) keeps serving the previous context, logs once, and
  // is retried when the files change again.
  std::shared_ptr<boost::asio::ssl::context> context_for_new_connection();

 private:
  // The cert, key and client CA files' identities; nullopt for one that is absent or unset.
  std::vector<std::optional<FileIdentity>> identities() const;

  TlsServerConfig config_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::vector<std::optional<FileIdentity>> built_from_;
  std::vector<std::optional<FileIdentity>> failed_from_;  // the files of the last failed rebuild
  std::string last_error_;
};

}  // namespace certwatch::web
