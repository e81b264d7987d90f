#pragma once
// The setup's wiring: everything the chat service is made of, put together from a config.
//
//   parley::config cfg;                 // see config/config.hpp
//   cfg.port = 0;                        // any free port: the log line tells which
//   return parley::run_server(cfg);      // until SIGTERM / SIGINT
//
// Logs `parley listening on http://HOST:PORT (storage: sqlite DB_PATH)` once listening. On
// SIGTERM / SIGINT: stops accepting, lets pending store writes commit (their acks go out), closes
// every socket, closes the store, returns 0. Startup errors (bad key, unusable database or
// upload directory, port in use) are logged and return 1.
#include "parley/config/config.hpp"

namespace parley {

int run_server(const config& cfg);

}  // namespace parley
