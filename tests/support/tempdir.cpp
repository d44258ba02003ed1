#include "support/tempdir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace certwatch::testing {
namespace {

namespace fs = std::filesystem;

// Tests make unreadable files and directories on purpose (permission_denied cases); give the
// owner access back so the recursive remove can get into them.
void make_removable(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);
  if (ec || fs::is_symlink(status)) return;
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
  if (!fs::is_directory(status)) return;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    make_removable(it->path());
  }
}

}  // namespace

TempDir::TempDir() {
  const char* env = std::getenv("TMPDIR");
  const fs::path base = env != nullptr && *env != '\0' ? fs::path(env) : fs::path("/tmp");
  std::string pattern = (base / "certwatch-test-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  path_ = fs::absolute(fs::path(buffer.data()));
}

TempDir::~TempDir() {
  make_removable(path_);
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path TempDir::write(std::string_view relative, std::string_view content, unsigned mode) const {
  const fs::path rel(relative);
  if (rel.empty() || rel.is_absolute()) {
    throw std::invalid_argument("TempDir::write needs a relative path, got '" +
                                std::string(relative) + "'");
  }
  const fs::path target = path_ / rel;
  fs::create_directories(target.parent_path());
  // Rewriting a file a test made unreadable must still work.
  if (fs::exists(fs::symlink_status(target))) {
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
  }
  {
    std::ofstream file(target, std::ios::binary | std::ios::trunc);
    file.write(content.data(), static_cast<std::streamsize>(content.size()));
    file.close();
    if (!file) throw std::runtime_error("cannot write " + target.string());
  }
  if (::chmod(target.c_str(), static_cast<mode_t>(mode)) != 0) {
    throw std::runtime_error("chmod " + target.string() + ": " + std::strerror(errno));
  }
  return target;
}

fs::path publish_secret_volume(const TempDir& tmp, std::string_view dir, std::string_view version,
                               const std::vector<SecretFile>& files) {
  const fs::path volume = tmp.path() / dir;
  for (const SecretFile& file : files) {
    tmp.write((fs::path(dir) / version / file.name).string(), file.content, file.mode);
  }
  const fs::path data = volume / "..data";
  std::error_code ec;
  const fs::path previous = fs::read_symlink(data, ec);
  fs::create_directory_symlink(version, volume / "..data_tmp");
  fs::rename(volume / "..data_tmp", data);
  for (const SecretFile& file : files) {
    if (!fs::is_symlink(fs::symlink_status(volume / file.name))) {
      fs::create_symlink(fs::path("..data") / file.name, volume / file.name);
    }
  }
  if (!ec && previous != fs::path(version)) fs::remove_all(volume / previous);
  return volume;
}

}  // namespace certwatch::testing
