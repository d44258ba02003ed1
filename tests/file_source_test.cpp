// The file source on real directories: real certificates, symlink farms, FIFOs, permissions.
#include "sources/file_source.hpp"

#include <fcntl.h>
#include <grp.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rules/checks.hpp"
#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "x509/parse.hpp"

namespace {

namespace fs = std::filesystem;
using certwatch::CertObservation;
using certwatch::CertType;
using certwatch::FileErrorReason;
using certwatch::KeyFile;
using certwatch::config::ExtraFile;
using certwatch::config::FilesConfig;
using certwatch::rules::ChecksConfig;
using certwatch::sources::classify_cert_file_name;
using certwatch::sources::FileSource;
using certwatch::sources::NameClass;
using certwatch::sources::PollResult;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::TempDir;
using certwatch::testing::thread_bytes_read;
using certwatch::testing::unix_now;

GeneratedCert make_cert(const std::string& cn, std::int64_t days_left, bool is_ca = false) {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = is_ca;
  spec.not_after = unix_now() + days_left * kDay;
  return generate_cert(spec);
}

std::string to_crlf(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// path -> reason name, so a failed comparison prints readably.
std::map<std::string, std::string> errors_of(const PollResult& result) {
  std::map<std::string, std::string> out;
  for (const auto& error : result.file_errors) {
    out[error.path] = std::string(certwatch::to_string(error.reason));
  }
  return out;
}

std::vector<const CertObservation*> certs_at(const PollResult& result, const fs::path& path) {
  std::vector<const CertObservation*> out;
  for (const auto& cert : result.certificates) {
    if (cert.id.path == path.string()) out.push_back(&cert);
  }
  return out;
}

// The one certificate at path/index; fails the test when there is not exactly one.
const CertObservation& cert_at(const PollResult& result, const fs::path& path,
                               const std::string& index = "0") {
  const CertObservation* found = nullptr;
  int count = 0;
  for (const auto& cert : result.certificates) {
    if (cert.id.path == path.string() && cert.id.index == index) {
      found = &cert;
      ++count;
    }
  }
  INFO("certificate " << path << " index " << index);
  REQUIRE(count == 1);
  return *found;
}

std::string subject_at(const PollResult& result, const fs::path& path,
                       const std::string& index = "0") {
  const CertObservation& cert = cert_at(result, path, index);
  REQUIRE(cert.facts);
  return cert.facts->subject_cn;
}

// Polls on another thread so a poll that blocks (a FIFO opened for reading) fails the test
// instead of hanging it: after the deadline a writer opens `fifo`, which releases the reader.
PollResult poll_within(FileSource& source, std::chrono::seconds deadline,
                       const fs::path& fifo = {}) {
  auto pending = std::async(std::launch::async, [&source] { return source.poll(); });
  if (pending.wait_for(deadline) != std::future_status::ready) {
    if (!fifo.empty()) {
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
    pending.wait();
    FAIL("poll did not finish within " << deadline.count() << " s");
  }
  return pending.get();
}

void set_mtime(const fs::path& path, std::int64_t unix_seconds) {
  const struct timespec times[2] = {{static_cast<time_t>(unix_seconds), 0},
                                    {static_cast<time_t>(unix_seconds), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A CockroachDB certs directory with one of everything a real one can hold, plus the ways a file
// can be unusable.
struct CertsFixture {
  TempDir tmp;
  fs::path certs = tmp.path() / "certs";
  GeneratedCert new_ca = make_cert("new CA", 3650, true);
  GeneratedCert old_ca = make_cert("old CA", 200, true);
  GeneratedCert node = make_cert("node", 365);
  GeneratedCert root = make_cert("root", 80);
  GeneratedCert node_client = make_cert("node", 20);
  GeneratedCert ui = make_cert("ui", 300);
  GeneratedCert client_ca = make_cert("client CA", 3000, true);
  GeneratedCert tenant_client = make_cert("tenant 5", 100);
  GeneratedCert tenant_signing = make_cert("tenant signing 5", 100);
  GeneratedCert some = make_cert("some", 10);
  GeneratedCert mixed_first = make_cert("mixed first", 100);
  GeneratedCert mixed_third = make_cert("mixed third", 100);
  GeneratedCert extra_a = make_cert("extra a", 50, true);
  GeneratedCert extra_b = make_cert("extra b", 60, true);
  FilesConfig files;

  CertsFixture() {
    tmp.write("certs/ca.crt", new_ca.cert_pem + old_ca.cert_pem);
    // Kubernetes secret volume: the visible name is a symlink through `..data`, itself a symlink
    // to a timestamped directory that is swapped atomically on update.
    tmp.write("certs/..2024_01_01_00_00_00.000000001/node.crt", node.cert_pem);
    fs::create_directory_symlink("..2024_01_01_00_00_00.000000001", certs / "..data");
    fs::create_symlink("..data/node.crt", certs / "node.crt");
    tmp.write("certs/client.root.crt", root.cert_pem);
    tmp.write("certs/client.node.crt", node_client.cert_pem);
    tmp.write("certs/ui.crt", to_crlf("Subject: CN=ui\nsome notes\n" + ui.cert_pem + "bye\n"));
    tmp.write("certs/ca-client.crt", client_ca.cert_pem);
    tmp.write("certs/client-tenant.5.crt", tenant_client.cert_pem);
    tmp.write("certs/tenant-signing.5.crt", tenant_signing.cert_pem);
    tmp.write("certs/some.crt", some.cert_pem);
    // Keys are never parsed: garbage in one must cause no error at all.
    tmp.write("certs/node.key", "\x01\x02 not a key at all -----BEGIN CERTIFICATE-----", 0600);
    fs::create_symlink("does-not-exist.crt", certs / "ca-ui.crt");
    REQUIRE(::mkfifo((certs / "x.crt").c_str(), 0644) == 0);
    fs::create_directory(certs / "d.crt");
    tmp.write("certs/big.crt", node.cert_pem + std::string(9000, '#'));
    tmp.write("certs/nocert.crt", "just some text, no PEM here\n");
    tmp.write("certs/mixed.crt", mixed_first.cert_pem +
                                     certwatch::testing::pem_encode("this is not DER at all") +
                                     mixed_third.cert_pem);
    tmp.write("extra/a.pem", extra_a.cert_pem);
    tmp.write("extra/b.pem", extra_b.cert_pem);
    tmp.write("extra/ignored.txt", extra_b.cert_pem);

    files.certs_dirs = {certs.string(), (tmp.path() / "missing").string()};
    files.extra = {{(tmp.path() / "extra" / "*.pem").string(), CertType::ui_ca},
                   {(tmp.path() / "nothing" / "*.pem").string(), CertType::other},
                   {(tmp.path() / "extra" / "*.none").string(), CertType::other}};
    files.max_file_bytes = 8192;
  }
};

}  // namespace

namespace Catch {
// Failed comparisons of file-error maps print one "path: reason" per line.
template <>
struct StringMaker<std::map<std::string, std::string>> {
  static std::string convert(const std::map<std::string, std::string>& map) {
    std::string out = "{\n";
    for (const auto& [key, value] : map) out += "  " + key + ": " + value + "\n";
    return out + "}";
  }
};
}  // namespace Catch

TEST_CASE("a CockroachDB certs directory: every certificate, every unusable file",
          "[file_source]") {
  CertsFixture f;
  FileSource source(f.files, std::chrono::seconds(60));
  CHECK(source.name() == "file");
  CHECK(source.interval() == std::chrono::seconds(60));
  const PollResult result = poll_within(source, std::chrono::seconds(10), f.certs / "x.crt");

  // A bad file never fails the poll.
  CHECK(result.ok());

  SECTION("the file errors, exactly") {
    const std::map<std::string, std::string> expected{
        {(f.certs / "ca-ui.crt").string(), "not_found"},
        {(f.certs / "x.crt").string(), "not_regular_file"},
        {(f.certs / "d.crt").string(), "not_regular_file"},
        {(f.certs / "big.crt").string(), "too_large"},
        {(f.certs / "nocert.crt").string(), "no_certificate"},
        {(f.certs / "mixed.crt").string(), "bad_pem"},
        {(f.tmp.path() / "missing").string(), "not_found"},
        // A glob whose directory is missing matches nothing, like one in an existing directory.
        {(f.tmp.path() / "nothing" / "*.pem").string(), "not_found"},
        {(f.tmp.path() / "extra" / "*.none").string(), "not_found"},
    };
    CHECK(errors_of(result) == expected);
    CHECK(result.file_errors.size() == expected.size());  // no path reported twice
    for (const auto& error : result.file_errors) {
      INFO(error.path);
      CHECK_FALSE(error.detail.empty());  // the log line says why
    }
  }

  SECTION("every readable certificate, with its identity labels") {
    struct Expected {
      fs::path path;
      std::string index;
      CertType type;
      std::string user;
      const GeneratedCert* cert;
      std::string cn;
    };
    const std::vector<Expected> expected{
        {f.certs / "ca.crt", "0", CertType::ca, "", &f.new_ca, "new CA"},
        {f.certs / "ca.crt", "1", CertType::ca, "", &f.old_ca, "old CA"},
        {f.certs / "node.crt", "0", CertType::node, "", &f.node, "node"},
        {f.certs / "client.root.crt", "0", CertType::client, "root", &f.root, "root"},
        {f.certs / "client.node.crt", "0", CertType::node_client, "", &f.node_client, "node"},
        {f.certs / "ui.crt", "0", CertType::ui, "", &f.ui, "ui"},
        {f.certs / "ca-client.crt", "0", CertType::client_ca, "", &f.client_ca, "client CA"},
        {f.certs / "client-tenant.5.crt", "0", CertType::tenant_client, "", &f.tenant_client,
         "tenant 5"},
        {f.certs / "tenant-signing.5.crt", "0", CertType::tenant_signing, "", &f.tenant_signing,
         "tenant signing 5"},
        {f.certs / "some.crt", "0", CertType::other, "", &f.some, "some"},
        {f.certs / "mixed.crt", "0", CertType::other, "", &f.mixed_first, "mixed first"},
        {f.certs / "mixed.crt", "2", CertType::other, "", &f.mixed_third, "mixed third"},
        {f.tmp.path() / "extra" / "a.pem", "0", CertType::ui_ca, "", &f.extra_a, "extra a"},
        {f.tmp.path() / "extra" / "b.pem", "0", CertType::ui_ca, "", &f.extra_b, "extra b"},
    };
    CHECK(result.certificates.size() == expected.size());
    for (const Expected& e : expected) {
      INFO(e.path << " [" << e.index << "]");
      const CertObservation& cert = cert_at(result, e.path, e.index);
      CHECK(cert.id.source == "file");
      CHECK(cert.id.cert_type == e.type);
      CHECK(cert.id.user == e.user);
      CHECK(cert.id.node_id.empty());
      CHECK_FALSE(cert.load_failed);
      REQUIRE(cert.facts);
      CHECK(cert.facts->subject_cn == e.cn);
      CHECK(cert.facts->fingerprint_sha256 == certwatch::testing::sha256_fingerprint(*e.cert));
      CHECK(cert.not_after == cert.facts->not_after);
      CHECK(cert.not_before == cert.facts->not_before);
    }
  }

  SECTION("symlinks are followed once, through the visible name only") {
    const auto node_certs = certs_at(result, f.certs / "node.crt");
    CHECK(node_certs.size() == 1);
    for (const auto& cert : result.certificates) {
      INFO(cert.id.path);
      CHECK(cert.id.path.find("..") == std::string::npos);
    }
  }

  SECTION("a key file is neither parsed nor reported") {
    CHECK(certs_at(result, f.certs / "node.key").empty());
    CHECK(errors_of(result).count((f.certs / "node.key").string()) == 0);
  }

  SECTION("the glob matched only what it names") {
    CHECK(certs_at(result, f.tmp.path() / "extra" / "ignored.txt").empty());
  }
}

TEST_CASE("an unchanged poll returns the same result", "[file_source]") {
  CertsFixture f;
  FileSource source(f.files, std::chrono::seconds(60));
  const PollResult first = poll_within(source, std::chrono::seconds(10), f.certs / "x.crt");
  const PollResult second = poll_within(source, std::chrono::seconds(10), f.certs / "x.crt");
  CHECK(errors_of(second) == errors_of(first));
  REQUIRE(second.certificates.size() == first.certificates.size());
  for (std::size_t i = 0; i < first.certificates.size(); ++i) {
    CHECK(second.certificates[i].id == first.certificates[i].id);
    CHECK(second.certificates[i].facts->fingerprint_sha256 ==
          first.certificates[i].facts->fingerprint_sha256);
  }
}

TEST_CASE("unchanged files are served from the cache, and a changed mtime is read again",
          "[file_source][cache]") {
  TempDir tmp;
  const GeneratedCert a = make_cert("a", 100);
  const GeneratedCert b = make_cert("b", 100);
  const fs::path bundle = tmp.write("ca.crt", a.cert_pem + b.cert_pem);
  tmp.write("node.crt", a.cert_pem);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  // Files changed within a second of a read are read again at the next poll (see the next
  // test): let these age past that first.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  // Reading /proc/thread-self/io itself costs a few hundred bytes: measure that first.
  const std::uint64_t m0 = thread_bytes_read();
  const std::uint64_t m1 = thread_bytes_read();
  const std::uint64_t overhead = m1 - m0;

  const std::uint64_t before_first = thread_bytes_read();
  const PollResult first = source.poll();  // on this thread, so its reads count here
  const std::uint64_t first_read = thread_bytes_read() - before_first - overhead;
  REQUIRE(first.certificates.size() == 3);
  const auto bundle_size = static_cast<std::uint64_t>(fs::file_size(bundle));
  CHECK(first_read >= bundle_size + a.cert_pem.size());

  const std::uint64_t before_second = thread_bytes_read();
  const PollResult second = source.poll();
  const std::uint64_t second_read = thread_bytes_read() - before_second - overhead;
  CHECK(second.certificates.size() == 3);
  CHECK(second_read < 64);  // nothing but /proc jitter: no certificate file was read

  set_mtime(bundle, unix_now() - 3600);  // same bytes, same size, different mtime
  const std::uint64_t before_third = thread_bytes_read();
  const PollResult third = source.poll();
  const std::uint64_t third_read = thread_bytes_read() - before_third - overhead;
  CHECK(third.certificates.size() == 3);
  CHECK(third_read >= bundle_size);
  CHECK(third_read < bundle_size + a.cert_pem.size());  // node.crt still from the cache

  // The cache serves the very facts of the first read, shared, never a copy; a file read again
  // gets facts of its own (equal here: the same bytes).
  REQUIRE(third.certificates.size() == first.certificates.size());
  for (std::size_t i = 0; i < first.certificates.size(); ++i) {
    CHECK(second.certificates[i].facts == first.certificates[i].facts);
    const bool read_again = first.certificates[i].id.path == bundle.string();
    CHECK((third.certificates[i].facts != first.certificates[i].facts) == read_again);
    CHECK(third.certificates[i] == first.certificates[i]);
  }
}

TEST_CASE("a file changed just before its read is read again at the next poll",
          "[file_source][cache]") {
  // A same-size rewrite within one timestamp tick after our read would keep the cache key; a
  // file whose timestamps are that fresh is therefore not trusted from the cache yet.
  TempDir tmp;
  const GeneratedCert a = make_cert("a", 100);
  const fs::path node = tmp.write("node.crt", a.cert_pem);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  const std::uint64_t m0 = thread_bytes_read();
  const std::uint64_t overhead = thread_bytes_read() - m0;
  const auto bytes_read_by_poll = [&] {
    const std::uint64_t before = thread_bytes_read();
    const PollResult result = source.poll();
    CHECK(result.certificates.size() == 1);
    return thread_bytes_read() - before - overhead;
  };
  const auto size = static_cast<std::uint64_t>(fs::file_size(node));
  CHECK(bytes_read_by_poll() >= size);  // cold
  CHECK(bytes_read_by_poll() >= size);  // written moments ago: not trusted from the cache
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(bytes_read_by_poll() >= size);  // the last read was still too fresh to cache
  CHECK(bytes_read_by_poll() < 64);     // now it is cached

  // A timestamp in the future was not set by a write just now: cached after one read.
  set_mtime(node, unix_now() + 30 * 86400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // ctime ages past the window
  CHECK(bytes_read_by_poll() >= size);
  CHECK(bytes_read_by_poll() < 64);
}

TEST_CASE("a certificate replaced by rename is picked up on the next poll", "[file_source]") {
  TempDir tmp;
  const GeneratedCert old_cert = make_cert("old root", 10);
  const GeneratedCert new_cert = make_cert("new root", 700);
  const fs::path path = tmp.write("client.root.crt", old_cert.cert_pem);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  CHECK(subject_at(source.poll(), path) == "old root");

  // The way careful tools deploy: write beside, then rename over the old name (new inode).
  const fs::path staged = tmp.write("client.root.crt.tmp", new_cert.cert_pem);
  fs::rename(staged, path);
  const PollResult after = source.poll();
  CHECK(subject_at(after, path) == "new root");
  CHECK(cert_at(after, path).id.user == "root");
  CHECK(after.certificates.size() == 1);
  CHECK(after.file_errors.empty());
}

TEST_CASE("a Kubernetes ..data symlink swap is picked up on the next poll", "[file_source]") {
  TempDir tmp;
  const fs::path certs = tmp.path();
  const GeneratedCert first = make_cert("node v1", 10);
  const GeneratedCert second = make_cert("node v2", 365);
  tmp.write("..2024_01/node.crt", first.cert_pem);
  tmp.write("..2024_01/ca.crt", first.cert_pem);
  fs::create_directory_symlink("..2024_01", certs / "..data");
  fs::create_symlink("..data/node.crt", certs / "node.crt");
  fs::create_symlink("..data/ca.crt", certs / "ca.crt");
  FilesConfig files;
  files.certs_dirs = {certs.string()};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult before = source.poll();
  CHECK(subject_at(before, certs / "node.crt") == "node v1");
  CHECK(before.certificates.size() == 2);  // the hidden directories are not scanned again

  // What the kubelet does: new timestamped directory, new `..data` link renamed over the old.
  tmp.write("..2024_02/node.crt", second.cert_pem);
  tmp.write("..2024_02/ca.crt", first.cert_pem);
  fs::create_directory_symlink("..2024_02", certs / "..data_tmp");
  fs::rename(certs / "..data_tmp", certs / "..data");
  fs::remove_all(certs / "..2024_01");

  const PollResult after = source.poll();
  CHECK(subject_at(after, certs / "node.crt") == "node v2");
  CHECK(subject_at(after, certs / "ca.crt") == "node v1");
  CHECK(after.certificates.size() == 2);
  CHECK(after.file_errors.empty());
}

TEST_CASE("a fixed file is usable again and a removed one disappears", "[file_source]") {
  TempDir tmp;
  const GeneratedCert cert = make_cert("ui", 100);
  const fs::path ui = tmp.write("ui.crt", "-----BEGIN CERTIFICATE-----\ntruncated");
  const fs::path node = tmp.write("node.crt", cert.cert_pem);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult broken = source.poll();
  CHECK(errors_of(broken) == std::map<std::string, std::string>{{ui.string(), "bad_pem"}});
  CHECK(broken.certificates.size() == 1);

  tmp.write("ui.crt", cert.cert_pem);
  set_mtime(ui, unix_now() + 5);  // a different mtime even on a coarse-grained clock
  fs::remove(node);
  const PollResult fixed = source.poll();
  CHECK(fixed.file_errors.empty());
  REQUIRE(fixed.certificates.size() == 1);
  CHECK(fixed.certificates[0].id.path == ui.string());
}

TEST_CASE("an extra glob never opens a .key file, whatever it matches", "[file_source]") {
  TempDir tmp;
  const GeneratedCert cert = make_cert("node", 100);
  const fs::path node = tmp.write("keys/node.crt", cert.cert_pem);
  // A valid certificate under a .key name would be exported if it were read.
  tmp.write("keys/x.key", cert.cert_pem, 0600);
  REQUIRE(::mkfifo((tmp.path() / "keys/y.key").c_str(), 0600) == 0);
  tmp.write("only-keys/z.key", cert.cert_pem, 0600);
  const std::string only_keys = (tmp.path() / "only-keys" / "*").string();
  FilesConfig files;
  files.certs_dirs = {};
  files.extra = {{(tmp.path() / "keys" / "*").string(), CertType::other},
                 {only_keys, CertType::other}};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult result = source.poll();
  REQUIRE(result.certificates.size() == 1);
  CHECK(result.certificates[0].id.path == node.string());
  // A glob that matches nothing but keys is reported as matching nothing, by the glob's name.
  CHECK(errors_of(result) == std::map<std::string, std::string>{{only_keys, "not_found"}});
}

TEST_CASE("max_file_bytes: exactly the cap is read, one byte more is too_large", "[file_source]") {
  TempDir tmp;
  const GeneratedCert cert = make_cert("node", 100);
  constexpr std::uint64_t kCap = 4096;
  REQUIRE(cert.cert_pem.size() < kCap);
  const std::string at_cap = cert.cert_pem + std::string(kCap - cert.cert_pem.size(), '\n');
  const fs::path fits = tmp.write("node.crt", at_cap);
  const fs::path over = tmp.write("ui.crt", at_cap + "\n");
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  files.max_file_bytes = kCap;
  FileSource source(files, std::chrono::seconds(60));
  const PollResult result = source.poll();
  CHECK(subject_at(result, fits) == "node");
  CHECK(errors_of(result) == std::map<std::string, std::string>{{over.string(), "too_large"}});
  CHECK(result.certificates.size() == 1);
}

TEST_CASE("a file the daemon's user cannot read is permission_denied, the rest is read",
          "[file_source][permissions]") {
  // The daemon runs unprivileged. Root reads anything, so as root the poll runs in a child
  // process that has dropped to `nobody`, as the daemon's own user would be.
  TempDir tmp;
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const GeneratedCert cert = make_cert("node", 100);
  const fs::path readable = tmp.write("certs/node.crt", cert.cert_pem, 0644);
  const fs::path secret = tmp.write("certs/client.secret.crt", cert.cert_pem, 0000);
  const fs::path locked_dir = tmp.path() / "locked";
  fs::create_directory(locked_dir);
  tmp.write("locked/ca.crt", cert.cert_pem, 0644);
  fs::permissions(tmp.path() / "certs", fs::perms::owner_all | fs::perms::group_read |
                                            fs::perms::group_exec | fs::perms::others_read |
                                            fs::perms::others_exec);
  fs::permissions(locked_dir, fs::perms::owner_all);  // 0700, owned by root or by us
  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "certs").string(), locked_dir.string()};
  const std::string locked_glob = (locked_dir / "*.crt").string();
  files.extra = {{locked_glob, CertType::other}};

  // "path\treason" per file error, "cert\tpath" per certificate.
  const auto describe = [](const PollResult& result) {
    std::string out;
    for (const auto& e : result.file_errors) {
      out += e.path + "\t" + std::string(certwatch::to_string(e.reason)) + "\n";
    }
    for (const auto& c : result.certificates) out += "cert\t" + c.id.path + "\n";
    return out;
  };

  std::string report;
  if (::geteuid() != 0) {
    FileSource source(files, std::chrono::seconds(60));
    report = describe(source.poll());
  } else {
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody != nullptr);
    const uid_t uid = nobody->pw_uid;
    const gid_t gid = nobody->pw_gid;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      std::string out;
      int code = 0;
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0 ||
          ::geteuid() == 0) {
        out = "could not drop privileges\n";
        code = 3;
      } else {
        try {
          FileSource source(files, std::chrono::seconds(60));
          out = describe(source.poll());
        } catch (const std::exception& e) {
          out = std::string("exception: ") + e.what() + "\n";
          code = 4;
        }
      }
      const char* data = out.data();
      std::size_t left = out.size();
      while (left > 0) {
        const ssize_t n = ::write(fds[1], data, left);
        if (n <= 0) break;
        data += n;
        left -= static_cast<std::size_t>(n);
      }
      ::_exit(code);  // no Catch2 or TempDir teardown in the child
    }
    ::close(fds[1]);
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) {
      report.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO(report);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }

  INFO(report);
  std::istringstream lines(report);
  std::map<std::string, std::string> errors;
  std::vector<std::string> cert_paths;
  for (std::string line; std::getline(lines, line);) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    if (line.substr(0, tab) == "cert") {
      cert_paths.push_back(line.substr(tab + 1));
    } else {
      errors[line.substr(0, tab)] = line.substr(tab + 1);
    }
  }
  CHECK(errors == std::map<std::string, std::string>{{secret.string(), "permission_denied"},
                                                     {locked_dir.string(), "permission_denied"},
                                                     {locked_glob, "permission_denied"}});
  CHECK(cert_paths == std::vector<std::string>{readable.string()});
}

TEST_CASE("classify_cert_file_name follows CockroachDB's naming", "[file_source]") {
  struct Row {
    std::string name;
    std::optional<NameClass> expected;
  };
  const auto is = [](CertType type, std::string user = "") {
    return std::optional<NameClass>(NameClass{type, std::move(user)});
  };
  const std::vector<Row> table{
      {"ca.crt", is(CertType::ca)},
      {"ca-client.crt", is(CertType::client_ca)},
      {"ca-ui.crt", is(CertType::ui_ca)},
      {"ca-client-tenant.crt", is(CertType::tenant_ca)},
      {"node.crt", is(CertType::node)},
      {"client.node.crt", is(CertType::node_client)},
      {"client.root.crt", is(CertType::client, "root")},
      {"client.app_user.crt", is(CertType::client, "app_user")},
      {"client.first.last.crt", is(CertType::client, "first.last")},
      {"ui.crt", is(CertType::ui)},
      {"client-tenant.5.crt", is(CertType::tenant_client)},
      {"client-tenant.123.crt", is(CertType::tenant_client)},
      {"tenant-signing.5.crt", is(CertType::tenant_signing)},
      {"some.crt", is(CertType::other)},
      {"client.crt", is(CertType::other)},
      {"node.key", std::nullopt},
      {"ca.key", std::nullopt},
      {"client.root.key", std::nullopt},
      {"node.crt.bak", std::nullopt},
      {"node.pem", std::nullopt},
      {"..data", std::nullopt},
      {".node.crt", std::nullopt},
      {"..2024_01_01_00_00_00.000000001", std::nullopt},
      {"", std::nullopt},
  };
  for (const Row& row : table) {
    INFO("file name \"" << row.name << "\"");
    const auto got = classify_cert_file_name(row.name);
    REQUIRE(got.has_value() == row.expected.has_value());
    if (got) {
      CHECK(certwatch::to_string(got->type) == certwatch::to_string(row.expected->type));
      CHECK(got->user == row.expected->user);
    }
  }
}

namespace {

// Counts the opens of watched files (inotify IN_OPEN): stat(2) makes no event, any open does, so
// "never opened" is observed rather than inferred.
class OpenCounter {
 public:
  explicit OpenCounter(const std::vector<fs::path>& paths)
      : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    for (const fs::path& path : paths) {
      INFO(path);
      REQUIRE(::inotify_add_watch(fd_, path.c_str(), IN_OPEN) >= 0);
    }
  }
  ~OpenCounter() { ::close(fd_); }
  OpenCounter(const OpenCounter&) = delete;
  OpenCounter& operator=(const OpenCounter&) = delete;

  // Opens since the last call.
  int take() {
    int opens = 0;
    alignas(inotify_event) char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fd_, buffer, sizeof buffer)) > 0) {
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        if ((event->mask & IN_OPEN) != 0) ++opens;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    return opens;
  }

 private:
  int fd_;
};

// `cert`'s private key as encrypted PKCS#8 PEM (AES-256, passphrase "secret").
std::string encrypted_key_pem(const GeneratedCert& cert) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(bio != nullptr);
  char passphrase[] = "secret";
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio.get(), static_cast<EVP_PKEY*>(cert.key.get()),
                                        EVP_aes_256_cbc(), passphrase, 6, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string user_name_of(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : "";
}

// path -> key, so a failed comparison names the key.
std::map<std::string, KeyFile> keys_of(const PollResult& result) {
  std::map<std::string, KeyFile> out;
  for (const KeyFile& key : result.keys) {
    INFO(key.path);
    CHECK(out.emplace(key.path, key).second);  // each key once
  }
  return out;
}

KeyFile key_file(const fs::path& path, CertType type, const std::string& user, bool exists,
                 std::uint32_t mode = 0) {
  KeyFile key;
  key.path = path.string();
  key.cert_type = type;
  key.user = user;
  key.exists = exists;
  if (exists) {
    key.mode = mode;
    key.uid = ::geteuid();
    key.gid = ::getegid();
    key.owner = user_name_of(::geteuid());
  }
  return key;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<KeyFile> {
  static std::string convert(const KeyFile& key) {
    std::ostringstream out;
    out << "{" << key.path << " " << certwatch::to_string(key.cert_type) << " user=" << key.user
        << " exists=" << key.exists << " mode=" << std::oct << key.mode << std::dec
        << " uid=" << key.uid << " gid=" << key.gid << " owner=" << key.owner << " matches="
        << (key.matches_certificate ? (*key.matches_certificate ? "true" : "false") : "unset")
        << "}";
    return out.str();
  }
};
}  // namespace Catch

TEST_CASE("the key beside each leaf certificate and every CA key are stat'ed",
          "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert ca = make_cert("ca", 3650, true);
  const GeneratedCert node = make_cert("node", 100);
  const GeneratedCert alice = make_cert("alice", 100);
  const GeneratedCert bob = make_cert("bob", 100);
  const GeneratedCert ui = make_cert("ui", 100);
  const GeneratedCert extra = make_cert("extra", 100);
  tmp.write("certs/ca.crt", ca.cert_pem);
  tmp.write("certs/ca-client.crt", ca.cert_pem);
  const fs::path ca_key = tmp.write("certs/ca.key", ca.key_pem, 0600);
  const fs::path ca_client_key = tmp.write("certs/ca-client.key", ca.key_pem, 0400);
  const fs::path ca_ui_key = tmp.write("certs/ca-ui.key", ca.key_pem, 0600);
  const fs::path ca_tenant_key = tmp.write("certs/ca-client-tenant.key", ca.key_pem, 0600);
  tmp.write("certs/node.crt", node.cert_pem);
  const fs::path node_key = tmp.write("certs/node.key", node.key_pem, 0600);
  tmp.write("certs/client.alice.crt", alice.cert_pem);
  const fs::path alice_key = tmp.write("certs/client.alice.key", alice.key_pem, 0644);
  tmp.write("certs/client.bob.crt", bob.cert_pem);  // no key beside it
  tmp.write("certs/ui.crt", ui.cert_pem);
  const fs::path ui_key = tmp.write("certs/ui.key", ui.key_pem, 0740);
  tmp.write("certs/nocert.crt", "no certificate here\n");  // no certificate: no key either
  tmp.write("certs/nocert.key", node.key_pem, 0600);
  tmp.write("certs/stray.key", node.key_pem, 0644);  // no certificate, not a CA key: not reported
  tmp.write("extra/haproxy.crt", extra.cert_pem);
  const fs::path haproxy_key = tmp.write("extra/haproxy.key", extra.key_pem, 0640);
  tmp.write("extra/bundle.pem", extra.cert_pem);  // not *.crt: no key by name
  tmp.write("extra/bundle.key", extra.key_pem, 0600);
  tmp.write("extra/ca-extra.crt", ca.cert_pem);  // a CA given as extra: no key beside it
  tmp.write("extra/ca-extra.key", ca.key_pem, 0600);

  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "certs").string()};
  files.extra = {{(tmp.path() / "extra" / "haproxy.crt").string(), CertType::ui},
                 {(tmp.path() / "extra" / "bundle.pem").string(), CertType::other},
                 {(tmp.path() / "extra" / "ca-extra.crt").string(), CertType::client_ca}};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult result = source.poll();

  const fs::path certs = tmp.path() / "certs";
  const std::map<std::string, KeyFile> expected{
      {ca_key.string(), key_file(ca_key, CertType::ca, "", true, 0600)},
      {ca_client_key.string(), key_file(ca_client_key, CertType::client_ca, "", true, 0400)},
      {ca_ui_key.string(), key_file(ca_ui_key, CertType::ui_ca, "", true, 0600)},
      {ca_tenant_key.string(), key_file(ca_tenant_key, CertType::tenant_ca, "", true, 0600)},
      {node_key.string(), key_file(node_key, CertType::node, "", true, 0600)},
      {alice_key.string(), key_file(alice_key, CertType::client, "alice", true, 0644)},
      {(certs / "client.bob.key").string(),
       key_file(certs / "client.bob.key", CertType::client, "bob", false)},
      {ui_key.string(), key_file(ui_key, CertType::ui, "", true, 0740)},
      {haproxy_key.string(), key_file(haproxy_key, CertType::ui, "", true, 0640)},
  };
  const std::map<std::string, KeyFile> keys = keys_of(result);
  for (const auto& [path, key] : expected) {
    INFO(path);
    REQUIRE(keys.count(path) == 1);
    CHECK(keys.at(path) == key);
  }
  CHECK(keys.size() == expected.size());
  CHECK_FALSE(user_name_of(::geteuid()).empty());  // the owner name was really looked up
  CHECK(result.file_errors.size() == 1);           // nocert.crt; keys are never file errors
}

TEST_CASE("a key's owner is reported by uid and user name", "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  tmp.write("node.crt", node.cert_pem);
  const fs::path key = tmp.write("node.key", node.key_pem, 0600);
  // As root the key goes to `nobody`, so the name is not simply the test's own.
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody != nullptr);
  const bool as_root = ::geteuid() == 0;
  const uid_t uid = as_root ? nobody->pw_uid : ::geteuid();
  const gid_t gid = as_root ? nobody->pw_gid : ::getegid();
  if (as_root) REQUIRE(::chown(key.c_str(), uid, gid) == 0);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult result = source.poll();
  REQUIRE(result.keys.size() == 1);
  CHECK(result.keys[0].uid == uid);
  CHECK(result.keys[0].gid == gid);
  CHECK(result.keys[0].owner == (as_root ? std::string("nobody") : user_name_of(uid)));
}

TEST_CASE("a chmod of a key shows at the next poll while the certificate comes from the cache",
          "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  const fs::path cert = tmp.write("node.crt", node.cert_pem);
  const fs::path key = tmp.write("node.key", node.key_pem, 0600);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  FileSource source(files, std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // out of the racy window
  REQUIRE(source.poll().keys.at(0).mode == 0600);
  OpenCounter cert_opens({cert});
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  const PollResult after_chmod = source.poll();
  CHECK(cert_opens.take() == 0);  // the certificate came from the cache
  REQUIRE(after_chmod.keys.size() == 1);
  CHECK(after_chmod.keys[0].mode == 0644);
  fs::remove(key);
  const PollResult after_remove = source.poll();
  REQUIRE(after_remove.keys.size() == 1);
  CHECK_FALSE(after_remove.keys[0].exists);
}

TEST_CASE("no .key file is opened unless key_match is on", "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  const GeneratedCert ca = make_cert("ca", 3650, true);
  tmp.write("certs/node.crt", node.cert_pem);
  tmp.write("certs/client.alice.crt", node.cert_pem);
  const fs::path node_key = tmp.write("certs/node.key", node.key_pem, 0600);
  const fs::path ca_key = tmp.write("certs/ca.key", ca.key_pem, 0600);
  // A FIFO key: an open for reading would block until a writer comes, a stat does not.
  const fs::path fifo_key = tmp.path() / "certs" / "client.alice.key";
  REQUIRE(::mkfifo(fifo_key.c_str(), 0600) == 0);
  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "certs").string()};

  OpenCounter key_opens({node_key, ca_key, fifo_key});
  FileSource source(files, std::chrono::seconds(60));
  for (int i = 0; i < 2; ++i) {
    const PollResult result = poll_within(source, std::chrono::seconds(5), fifo_key);
    const auto keys = keys_of(result);
    REQUIRE(keys.size() == 3);
    CHECK(keys.at(fifo_key.string()).exists);
    CHECK(keys.at(fifo_key.string()).mode == 0600);
    for (const auto& [path, key] : keys) CHECK_FALSE(key.matches_certificate.has_value());
  }
  CHECK(key_opens.take() == 0);

  // The same counter sees the opens key_match makes: the zero above can fail. CA keys and
  // special files are still never opened.
  ChecksConfig checks;
  checks.key_match = true;
  FileSource matching(files, std::chrono::seconds(60), checks);
  const PollResult result = poll_within(matching, std::chrono::seconds(5), fifo_key);
  const auto keys = keys_of(result);
  CHECK(keys.at(node_key.string()).matches_certificate == true);
  CHECK_FALSE(keys.at(fifo_key.string()).matches_certificate.has_value());
  CHECK(key_opens.take() == 1);
}

TEST_CASE("key_match: a matching, a foreign and an unparseable key, read again only on change",
          "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  const GeneratedCert alice = make_cert("alice", 100);
  const GeneratedCert other = make_cert("other", 100);
  tmp.write("node.crt", node.cert_pem);
  tmp.write("client.alice.crt", alice.cert_pem);
  tmp.write("client.bob.crt", other.cert_pem);
  tmp.write("client.carol.crt", other.cert_pem);
  const fs::path node_key = tmp.write("node.key", node.key_pem, 0600);
  const fs::path alice_key = tmp.write("client.alice.key", other.key_pem, 0600);
  const fs::path bob_key = tmp.write("client.bob.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0600);
  // An encrypted key is unreadable without its passphrase: not checked, and no prompt waits.
  const fs::path carol_key = tmp.write("client.carol.key", encrypted_key_pem(other), 0600);
  FilesConfig files;
  files.certs_dirs = {tmp.path().string()};
  ChecksConfig checks;
  checks.key_match = true;
  FileSource source(files, std::chrono::seconds(60), checks);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // out of the racy window

  OpenCounter key_opens({node_key, alice_key, bob_key, carol_key});
  const auto matches = [&] {
    std::map<std::string, std::string> out;
    for (const auto& [path, key] : keys_of(source.poll())) {
      out[fs::path(path).filename().string()] =
          key.matches_certificate ? (*key.matches_certificate ? "true" : "false") : "unknown";
    }
    return out;
  };
  const std::map<std::string, std::string> first{{"node.key", "true"},
                                                 {"client.alice.key", "false"},
                                                 {"client.bob.key", "unknown"},
                                                 {"client.carol.key", "unknown"}};
  CHECK(matches() == first);
  CHECK(key_opens.take() == 4);
  // Unchanged pairs come from the memo, unparseable keys too: they cannot parse until they change.
  CHECK(matches() == first);
  CHECK(key_opens.take() == 0);

  // The right key put in place for alice: read again, now it matches.
  tmp.write("client.alice.key", alice.key_pem, 0600);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto fixed = first;
  fixed["client.alice.key"] = "true";
  CHECK(matches() == fixed);
  CHECK(key_opens.take() == 1);
  // A new certificate for node.crt (the key unchanged) is compared again too.
  tmp.write("node.crt", other.cert_pem);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  fixed["node.key"] = "false";
  CHECK(matches() == fixed);
  CHECK(key_opens.take() == 1);
}

TEST_CASE("denylist_file: entries as written, re-read only when it changed",
          "[file_source][denylist]") {
  TempDir tmp;
  const std::string fingerprint(64, 'a');
  const fs::path denylist = tmp.write("deny/list.txt",
                                      "# compromised in incident 42\n"
                                      "\n  " +
                                          fingerprint +
                                          "  \r\n"
                                          "serial:0f1e issuer:CN=Old CA,O=Example\n"
                                          "   # indented comment\n");
  FilesConfig files;
  files.certs_dirs = {};
  ChecksConfig checks;
  checks.denylist_file = denylist.string();
  FileSource source(files, std::chrono::seconds(60), checks);
  CHECK(source.watched_directories() == std::vector<std::string>{(tmp.path() / "deny").string()});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // out of the racy window

  OpenCounter opens({denylist});
  const std::vector<std::string> expected{fingerprint, "serial:0f1e issuer:CN=Old CA,O=Example"};
  const PollResult first = source.poll();
  CHECK(first.denylist == expected);
  CHECK(first.file_errors.empty());
  CHECK(opens.take() == 1);
  const PollResult second = source.poll();
  CHECK(second.denylist == expected);
  CHECK(opens.take() == 0);  // unchanged: not read again

  tmp.write("deny/list.txt", "serial:01 issuer:CN=Another CA\n");
  const PollResult changed = source.poll();
  CHECK(changed.denylist == std::vector<std::string>{"serial:01 issuer:CN=Another CA"});
  CHECK(opens.take() == 1);
}

TEST_CASE("denylist_file: an invalid line, a missing file and a FIFO are file errors",
          "[file_source][denylist]") {
  TempDir tmp;
  const std::string fingerprint(64, 'b');
  const fs::path denylist =
      tmp.write("list.txt", fingerprint + "\n# ok\nnot an entry\nserial:zz issuer:CN=x\n");
  FilesConfig files;
  files.certs_dirs = {};
  ChecksConfig checks;
  checks.denylist_file = denylist.string();
  FileSource source(files, std::chrono::seconds(60), checks);
  const PollResult invalid = source.poll();
  CHECK(invalid.denylist == std::vector<std::string>{fingerprint});  // the valid line still counts
  REQUIRE(invalid.file_errors.size() == 1);
  CHECK(invalid.file_errors[0].path == denylist.string());
  CHECK(invalid.file_errors[0].reason == FileErrorReason::read_error);
  CHECK(invalid.file_errors[0].detail ==
        "line 3: not a denylist entry (a SHA-256 fingerprint, or serial:<hex> issuer:<DN>); 2 "
        "invalid lines in all");

  fs::remove(denylist);
  const PollResult missing = source.poll();
  CHECK(missing.denylist.empty());
  CHECK(errors_of(missing) == std::map<std::string, std::string>{{denylist.string(), "not_found"}});

  REQUIRE(::mkfifo(denylist.c_str(), 0600) == 0);
  const PollResult fifo = poll_within(source, std::chrono::seconds(5), denylist);
  CHECK(fifo.denylist.empty());
  CHECK(errors_of(fifo) ==
        std::map<std::string, std::string>{{denylist.string(), "not_regular_file"}});
}

TEST_CASE("same_config: key_match and denylist_file matter, other checks settings do not",
          "[file_source]") {
  FilesConfig files;
  ChecksConfig checks;
  const FileSource base(files, std::chrono::seconds(60), checks);
  ChecksConfig severity = checks;
  severity.severity["weak_key"] = certwatch::Severity::critical;
  CHECK(base.same_config(FileSource(files, std::chrono::seconds(60), severity)));
  ChecksConfig key_match = checks;
  key_match.key_match = true;
  CHECK_FALSE(base.same_config(FileSource(files, std::chrono::seconds(60), key_match)));
  ChecksConfig denylist = checks;
  denylist.denylist_file = "/etc/denylist";
  CHECK_FALSE(base.same_config(FileSource(files, std::chrono::seconds(60), denylist)));
}

TEST_CASE("from_config passes the checks settings to the file source", "[file_source]") {
  certwatch::config::Config config;
  config.checks.denylist_file = "/srv/deny/list";
  std::vector<std::shared_ptr<certwatch::sources::Source>> sources;
  FileSource::from_config(config, sources);
  REQUIRE(sources.size() == 1);
  const auto dirs = sources[0]->watched_directories();
  CHECK(std::find(dirs.begin(), dirs.end(), "/srv/deny") != dirs.end());
}

TEST_CASE("with the checks off no key file is stat'ed or reported", "[file_source][keys]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  tmp.write("certs/node.crt", node.cert_pem);
  tmp.write("certs/node.key", node.key_pem, 0600);
  tmp.write("certs/ca.key", node.key_pem, 0600);
  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "certs").string()};
  certwatch::rules::ChecksConfig off;
  off.enabled = false;
  FileSource source(files, std::chrono::seconds(60), off);
  const PollResult result = source.poll();
  CHECK(result.certificates.size() == 1);
  CHECK(result.keys.empty());
  certwatch::rules::ChecksConfig on;
  CHECK_FALSE(source.same_config(FileSource(files, std::chrono::seconds(60), on)));
  CHECK(FileSource(files, std::chrono::seconds(60), on).poll().keys.size() == 2);
}

namespace {

// A certificate signed by `issuer`, with the SANs CockroachDB writes into a node certificate.
GeneratedCert issued_cert(const std::string& cn, const GeneratedCert& issuer) {
  CertSpec spec;
  spec.common_name = cn;
  spec.not_after = unix_now() + 365 * kDay;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1"};
  return generate_cert(spec, &issuer);
}

// (path, check) of every failing posture check over what one poll found.
std::set<std::pair<std::string, std::string>> failing_checks(const PollResult& result) {
  std::vector<const CertObservation*> certs;
  for (const CertObservation& cert : result.certificates) certs.push_back(&cert);
  std::vector<const KeyFile*> keys;
  for (const KeyFile& key : result.keys) keys.push_back(&key);
  certwatch::rules::CheckInputs inputs;
  inputs.certificates = certs;
  inputs.keys = keys;
  inputs.now = unix_now();
  certwatch::rules::VerifyCache cache;
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& failure : run_checks(inputs, ChecksConfig{}, cache).failures) {
    out.emplace(failure.id.path, failure.check);
  }
  return out;
}

}  // namespace

TEST_CASE("TLS Secrets: tls.crt as the configured type and its tls.key checked against ca.crt",
          "[file_source][tls_secret]") {
  TempDir tmp;
  const GeneratedCert ca = make_cert("cluster CA", 3650, true);
  const GeneratedCert stranger_ca = make_cert("stranger CA", 3650, true);
  const GeneratedCert node = issued_cert("node", ca);
  const GeneratedCert admin = issued_cert("admin", ca);  // in the root user's Secret
  const GeneratedCert ui = issued_cert("ui", stranger_ca);
  using certwatch::testing::publish_secret_volume;
  const fs::path node_dir = publish_secret_volume(
      tmp, "node", "..2026_01",
      {{"tls.crt", node.cert_pem}, {"tls.key", node.key_pem, 0644}, {"ca.crt", ca.cert_pem}});
  const fs::path root_dir = publish_secret_volume(
      tmp, "root", "..2026_01",
      {{"tls.crt", admin.cert_pem}, {"tls.key", admin.key_pem, 0400}, {"ca.crt", ca.cert_pem}});
  const fs::path ui_dir = publish_secret_volume(
      tmp, "ui", "..2026_01", {{"tls.crt", ui.cert_pem}, {"ca.crt", ca.cert_pem}});

  FilesConfig files;
  files.certs_dirs = {};
  files.tls_secrets = {{node_dir.string(), CertType::node, ""},
                       {root_dir.string(), CertType::client, "root"},
                       {ui_dir.string(), CertType::ui, ""}};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult result = source.poll();

  CHECK(errors_of(result).empty());
  CHECK(result.certificates.size() == 6);  // tls.crt and ca.crt of each, nothing under ..data
  CHECK(cert_at(result, node_dir / "tls.crt").id.cert_type == CertType::node);
  CHECK(cert_at(result, root_dir / "tls.crt").id.cert_type == CertType::client);
  CHECK(cert_at(result, root_dir / "tls.crt").id.user == "root");
  CHECK(cert_at(result, ui_dir / "tls.crt").id.cert_type == CertType::ui);
  for (const fs::path& dir : {node_dir, root_dir, ui_dir}) {
    CHECK(cert_at(result, dir / "ca.crt").id.cert_type == CertType::ca);
  }
  const std::map<std::string, KeyFile> expected{
      {(node_dir / "tls.key").string(),
       key_file(node_dir / "tls.key", CertType::node, "", true, 0644)},
      {(root_dir / "tls.key").string(),
       key_file(root_dir / "tls.key", CertType::client, "root", true, 0400)},
      {(ui_dir / "tls.key").string(), key_file(ui_dir / "tls.key", CertType::ui, "", false)},
  };
  CHECK(keys_of(result) == expected);

  // The posture checks see a Secret as they see a certs directory: the key's mode, the client's
  // CN against its user, the chain to the ca.crt beside it, a missing key.
  const std::set<std::pair<std::string, std::string>> failing{
      {(node_dir / "tls.crt").string(), "key_permissions"},
      {(root_dir / "tls.crt").string(), "cn_mismatch"},
      {(ui_dir / "tls.crt").string(), "chain_untrusted"},
      {(ui_dir / "tls.crt").string(), "key_missing"},
  };
  CHECK(failing_checks(result) == failing);

  const std::vector<std::string> watched = source.watched_directories();
  for (const fs::path& dir : {node_dir, root_dir, ui_dir}) {
    CHECK(std::count(watched.begin(), watched.end(), dir.string()) == 1);
  }
}

TEST_CASE("a TLS Secret's ..data swap shows the new certificate and key at the next poll",
          "[file_source][tls_secret]") {
  TempDir tmp;
  const GeneratedCert ca = make_cert("cluster CA", 3650, true);
  const GeneratedCert first = issued_cert("node", ca);
  const GeneratedCert renewed = issued_cert("node", ca);
  using certwatch::testing::publish_secret_volume;
  const fs::path dir = publish_secret_volume(
      tmp, "node", "..2026_01",
      {{"tls.crt", first.cert_pem}, {"tls.key", first.key_pem, 0644}, {"ca.crt", ca.cert_pem}});
  FilesConfig files;
  files.certs_dirs = {};
  files.tls_secrets = {{dir.string(), CertType::node, ""}};
  FileSource source(files, std::chrono::seconds(60));
  const PollResult before = source.poll();
  REQUIRE(cert_at(before, dir / "tls.crt").facts);
  CHECK(cert_at(before, dir / "tls.crt").facts->fingerprint_sha256 ==
        certwatch::x509::parse_pem_bundle(first.cert_pem).certificates.at(0).fingerprint_sha256);
  CHECK(failing_checks(before).count({(dir / "tls.crt").string(), "key_permissions"}) == 1);

  publish_secret_volume(
      tmp, "node", "..2026_02",
      {{"tls.crt", renewed.cert_pem}, {"tls.key", renewed.key_pem, 0400}, {"ca.crt", ca.cert_pem}});
  const PollResult after = source.poll();
  REQUIRE(cert_at(after, dir / "tls.crt").facts);
  CHECK(cert_at(after, dir / "tls.crt").facts->fingerprint_sha256 ==
        certwatch::x509::parse_pem_bundle(renewed.cert_pem).certificates.at(0).fingerprint_sha256);
  CHECK(keys_of(after).at((dir / "tls.key").string()).mode == 0400);
  CHECK(failing_checks(after).empty());
  CHECK(after.certificates.size() == 2);
  CHECK(errors_of(after).empty());
}

TEST_CASE("a directory big enough to be scanned on several threads reports as one scanned in order",
          "[file_source]") {
  // 600 files (past the size where the scan is shared among threads) of every kind in turn: one
  // certificate, a bundle of two, garbage, a FIFO, a dangling symlink, a symlink to a good file.
  TempDir tmp;
  const fs::path certs = tmp.path() / "certs";
  const GeneratedCert one = make_cert("one", 100);
  const GeneratedCert two = make_cert("two", 200);
  tmp.write("certs/target/good.pem", one.cert_pem);
  std::vector<std::string> names;
  std::map<std::string, std::string> expected_errors;
  std::vector<std::pair<std::string, std::string>> expected_certs;  // (path, index), in order
  for (int i = 0; i < 600; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "client.u%03d.crt", i);
    const fs::path path = certs / name;
    switch (i % 6) {
      case 0:
        tmp.write(std::string("certs/") + name, one.cert_pem);
        expected_certs.emplace_back(path.string(), "0");
        break;
      case 1:
        tmp.write(std::string("certs/") + name, one.cert_pem + two.cert_pem);
        expected_certs.emplace_back(path.string(), "0");
        expected_certs.emplace_back(path.string(), "1");
        break;
      case 2:
        tmp.write(std::string("certs/") + name, "no certificate here\n");
        expected_errors[path.string()] = "no_certificate";
        break;
      case 3:
        REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
        expected_errors[path.string()] = "not_regular_file";
        break;
      case 4:
        fs::create_symlink("missing.pem", path);
        expected_errors[path.string()] = "not_found";
        break;
      default:
        fs::create_symlink(certs / "target" / "good.pem", path);
        expected_certs.emplace_back(path.string(), "0");
        break;
    }
  }
  FilesConfig files;
  files.certs_dirs = {certs.string()};
  FileSource source(files, std::chrono::seconds(60));
  for (const char* poll : {"cold", "warm"}) {
    INFO(poll << " poll");
    const PollResult result = poll_within(source, std::chrono::seconds(30));
    CHECK(errors_of(result) == expected_errors);
    REQUIRE(result.certificates.size() == expected_certs.size());
    for (std::size_t i = 0; i < expected_certs.size(); ++i) {
      INFO("certificate " << i);
      CHECK(result.certificates[i].id.path == expected_certs[i].first);
      CHECK(result.certificates[i].id.index == expected_certs[i].second);
      CHECK(
          result.certificates[i].id.user ==
          fs::path(expected_certs[i].first).stem().string().substr(std::string("client.").size()));
      REQUIRE(result.certificates[i].facts);
      CHECK(result.certificates[i].facts->subject_cn ==
            (expected_certs[i].second == "0" ? "one" : "two"));
    }
  }
}

TEST_CASE("a file named twice in the config is reported once, as its first mention says",
          "[file_source]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  const GeneratedCert ca = make_cert("CA", 1000, true);
  tmp.write("certs/node.crt", node.cert_pem);
  tmp.write("certs/ca.crt", ca.cert_pem);
  tmp.write("certs/tls.crt", node.cert_pem);
  tmp.write("certs/ca.key", "a CA key, never read", 0600);
  const std::string certs = (tmp.path() / "certs").string();
  FilesConfig files;
  // The directory twice, a glob over it, and the same directory as a TLS Secret.
  files.certs_dirs = {certs, certs};
  files.extra = {{certs + "/*.crt", CertType::ui}};
  files.tls_secrets = {{certs, CertType::node, ""}};
  FileSource source(files, std::chrono::seconds(60));
  for (int poll = 0; poll < 2; ++poll) {
    const PollResult result = poll_within(source, std::chrono::seconds(10));
    CHECK(result.file_errors.empty());
    std::map<std::string, CertType> types;
    for (const CertObservation& cert : result.certificates) {
      CHECK(types.emplace(cert.id.path, cert.id.cert_type).second);  // each path once
    }
    CHECK(types == std::map<std::string, CertType>{{certs + "/ca.crt", CertType::ca},
                                                   {certs + "/node.crt", CertType::node},
                                                   {certs + "/tls.crt", CertType::other}});
    // Keys too: the CA key once, and the keys beside the leaves (absent here) once each.
    std::map<std::string, int> keys;
    for (const KeyFile& key : result.keys) ++keys[key.path];
    CHECK(keys == std::map<std::string, int>{
                      {certs + "/ca.key", 1}, {certs + "/node.key", 1}, {certs + "/tls.key", 1}});
  }
}

TEST_CASE("the DER is kept for the checks and dropped without them", "[file_source]") {
  TempDir tmp;
  const GeneratedCert node = make_cert("node", 100);
  tmp.write("certs/node.crt", node.cert_pem);
  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "certs").string()};
  ChecksConfig on;
  on.enabled = true;
  ChecksConfig off;
  off.enabled = false;
  FileSource with_checks(files, std::chrono::seconds(60), on);
  FileSource without(files, std::chrono::seconds(60), off);
  const PollResult checked = poll_within(with_checks, std::chrono::seconds(10));
  const PollResult unchecked = poll_within(without, std::chrono::seconds(10));
  REQUIRE(checked.certificates.size() == 1);
  REQUIRE(unchecked.certificates.size() == 1);
  CHECK(checked.certificates[0].facts->der == node.der);
  CHECK(unchecked.certificates[0].facts->der.empty());
  // Every other fact is the same.
  certwatch::CertificateFacts without_der = *checked.certificates[0].facts;
  without_der.der.clear();
  CHECK(without_der == *unchecked.certificates[0].facts);
}

TEST_CASE("the cache serves files from directories listed out of order, globs and Secrets",
          "[file_source][cache]") {
  // The cache is looked up by path: paths that come in no sorted order (directories listed
  // z before a, a glob, a Secret) must still all be found there at the next poll.
  TempDir tmp;
  const GeneratedCert cert = make_cert("node", 100);
  tmp.write("z/node.crt", cert.cert_pem);
  tmp.write("a/node.crt", cert.cert_pem);
  tmp.write("m/extra.pem", cert.cert_pem);
  tmp.write("b/tls.crt", cert.cert_pem);
  tmp.write("b/ca.crt", cert.cert_pem);
  FilesConfig files;
  files.certs_dirs = {(tmp.path() / "z").string(), (tmp.path() / "a").string()};
  files.extra = {{(tmp.path() / "m" / "*.pem").string(), CertType::other}};
  files.tls_secrets = {{(tmp.path() / "b").string(), CertType::node, ""}};
  FileSource source(files, std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the racy window

  const std::uint64_t m0 = thread_bytes_read();
  const std::uint64_t overhead = thread_bytes_read() - m0;
  const std::uint64_t before_first = thread_bytes_read();
  const PollResult first = source.poll();
  const std::uint64_t first_read = thread_bytes_read() - before_first - overhead;
  REQUIRE(first.certificates.size() == 5);
  CHECK(first_read >= 5 * cert.cert_pem.size());

  const std::uint64_t before_second = thread_bytes_read();
  const PollResult second = source.poll();
  const std::uint64_t second_read = thread_bytes_read() - before_second - overhead;
  REQUIRE(second.certificates.size() == 5);
  CHECK(second_read < 64);  // every file from the cache
  for (std::size_t i = 0; i < first.certificates.size(); ++i) {
    CHECK(second.certificates[i].id == first.certificates[i].id);
    CHECK(second.certificates[i].facts == first.certificates[i].facts);
  }
}
