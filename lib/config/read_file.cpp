#include "config/read_file.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

namespace certwatch::config {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

ReadResult read_whole_file(const std::string& path, std::size_t limit) {
  ReadResult result;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rbe"));
  if (!file) {
    result.error = std::generic_category().message(errno);
    return result;
  }
  std::array<char, 8192> buffer{};
  while (true) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    result.content.append(buffer.data(), n);
    if (result.content.size() > limit) {
      result.error = "larger than " + std::to_string(limit) + " bytes";
      return result;
    }
    if (n < buffer.size()) break;
  }
  if (std::ferror(file.get()) != 0) {
    result.error = std::generic_category().message(errno);
  }
  return result;
}

}  // namespace certwatch::config
