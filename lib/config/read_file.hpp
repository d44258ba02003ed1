// Reading a whole configuration-sized file (the config, the web config, a DSN file, TLS PEM
// files) with an upper bound, so a wrong path to something huge is an error, not the heap.
#pragma once

#include <cstddef>
#include <string>

namespace certwatch::config {

struct ReadResult {
  std::string content;
  std::string error;  // empty on success: strerror text, or "larger than N bytes"
};

ReadResult read_whole_file(const std::string& path, std::size_t limit);

}  // namespace certwatch::config
