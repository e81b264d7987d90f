#pragma once
// The security guard: the Socket.IO middleware that admits only sockets with a valid JWT.
//
//   io.use(parley::auth::make_guard(verifier));
//
// The token is read from the handshake's auth payload (`auth.token`), else the
// `Authorization: Bearer` header, else the `token` query parameter. A refusal is a
// connect_error with the contract's message. An admitted socket carries
// data = {"userId": ..., "name": ...}.
#include <memory>
#include <optional>
#include <string>

#include "parley/auth/jwt.hpp"
#include "sio/socketio/namespace.hpp"

namespace parley::auth {

std::optional<std::string> token_from_handshake(const sio::handshake& hs);

sio::namespace_::middleware make_guard(std::shared_ptr<const jwt_verifier> verifier);

}  // namespace parley::auth
