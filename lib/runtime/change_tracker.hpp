// "Log once when it changes": remembers what was said about each key, so a condition that holds
// poll after poll is said when it appears, when it changes and when it goes away, not every poll.
// Thread-safety: none; used from the io_context's thread.
#pragma once

#include <map>
#include <utility>
#include <vector>

namespace certwatch::runtime {

template <typename Key, typename Value>
class ChangeTracker {
 public:
  struct Changes {
    std::vector<std::pair<Key, Value>> new_or_changed;  // to say now
    std::vector<Key> gone;                              // said before, no longer true
  };

  // `now`: everything that holds at present. Returns what differs from the previous call.
  Changes update(std::map<Key, Value> now) {
    Changes changes;
    for (const auto& [key, value] : now) {
      const auto before = said_.find(key);
      if (before == said_.end() || !(before->second == value)) {
        changes.new_or_changed.emplace_back(key, value);
      }
    }
    for (const auto& [key, value] : said_) {
      if (now.find(key) == now.end()) changes.gone.push_back(key);
    }
    said_ = std::move(now);
    return changes;
  }

 private:
  std::map<Key, Value> said_;
};

}  // namespace certwatch::runtime
