// The one wall clock of the daemon: unix seconds as a double. Code that must be testable takes a
// clock (state::Clock, a source's options) whose default is this function.
#pragma once

#include <chrono>

namespace certwatch {

inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace certwatch
