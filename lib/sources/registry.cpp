#include "sources/registry.hpp"

#include "sources/cloud_client_ca_source.hpp"
#include "sources/cluster_source.hpp"
#include "sources/cmek_source.hpp"
#include "sources/file_source.hpp"
#include "sources/probe_source.hpp"

namespace certwatch::sources {
namespace {

// Each entry adds the instances of one kind of source that a configuration enables.
using Factory = void (*)(const config::Config&, SourceList&);

constexpr Factory kSources[] = {
    &FileSource::from_config, &ClusterSource::from_config,       &ProbeSource::from_config,
    &CmekSource::from_config, &CloudClientCaSource::from_config,
};

}  // namespace

SourceList make_sources(const config::Config& config) {
  SourceList out;
  for (const Factory add : kSources) add(config, out);
  return out;
}

}  // namespace certwatch::sources
