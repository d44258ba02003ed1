// RAII owners for what libpq hands out, one definition for the config check and the cluster
// source. Header-only: core itself does not link libpq.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace certwatch::libpq {

struct ConninfoFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
struct MemFree {
  void operator()(char* text) const { PQfreemem(text); }
};

using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoFree>;
using MemPtr = std::unique_ptr<char, MemFree>;

}  // namespace certwatch::libpq
