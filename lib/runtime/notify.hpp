// systemd's notify protocol over $NOTIFY_SOCKET (plain datagrams, no libsystemd needed):
// READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1. Does nothing when not run by systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace certwatch::runtime {

class Notifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  Notifier();

  void ready() { send("READY=1\nSTATUS=serving"); }
  void reloading();
  void stopping() { send("STOPPING=1"); }
  void watchdog() { send("WATCHDOG=1"); }
  // Half of WATCHDOG_USEC when systemd asked this process for keep-alives.
  std::optional<std::chrono::milliseconds> watchdog_interval() const { return watchdog_interval_; }

 private:
  // Sends one datagram; returns false on failure (never throws).
  bool send(const std::string& message);

  std::string socket_path_;
  std::optional<std::chrono::milliseconds> watchdog_interval_;
};

}  // namespace certwatch::runtime
