#pragma once
// The security guard's key part: verifying (and, for `parley token`, signing) JWTs with libjwt.
// libjwt checks signatures only; the claims (exp, nbf, iss, aud) and the algorithm are checked
// here. Only the configured algorithm is accepted: never "none", never HS/RS confusion.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "sio/common/result.hpp"

namespace parley::auth {

enum class algorithm { hs256, rs256, es256 };
// "HS256", "RS256", "ES256": the JOSE names, also those of the jwt-algorithm option.
std::string_view to_string(algorithm a) noexcept;
// Case-insensitive; nullopt for anything else (including "none").
std::optional<algorithm> parse_algorithm(std::string_view name) noexcept;

struct jwt_options {
  algorithm alg = algorithm::hs256;
  std::string secret;           // HS256 shared secret
  std::string public_key_pem;   // RS256 / ES256: the key that verifies (PEM text, not a path)
  std::string private_key_pem;  // RS256 / ES256: only to sign tokens with `parley token`
  std::optional<std::string> issuer;    // required `iss` when set
  std::optional<std::string> audience;  // required in `aud` (string or array) when set
  std::chrono::seconds leeway{30};      // clock skew allowed for exp / nbf
  // Tokens of the web page's development login carry the claim `devLogin: true`; they are accepted
  // only while that login is on, so that they do not outlive it (the config sets this from dev-login).
  bool accept_dev_login_tokens = false;
};

// The claim that marks a token signed by the development login (`"devLogin": true`).
inline constexpr const char* dev_login_claim = "devLogin";

struct identity {
  std::string user_id;  // claim userId, else sub
  std::string name;     // claim name, else the user id
};

// The contract's connect_error messages.
enum class auth_error {
  no_token = 1,   // "Authentication error: No token provided"
  invalid_token,  // "Authentication error: Invalid token"
  token_expired,  // "Authentication error: Token expired"
};
const std::error_category& auth_category() noexcept;
std::error_code make_error_code(auth_error e) noexcept;

class jwt_verifier {
 public:
  // Throws std::invalid_argument naming the option when the key material is missing or unusable.
  explicit jwt_verifier(jwt_options opts);

  sio::result<identity> verify(std::string_view token,
                               std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
  // The same, and on failure `why` says what was wrong for the server's log ("bad signature",
  // "aud mismatch", ...): the client only ever sees the category message.
  sio::result<identity> verify(std::string_view token, std::chrono::system_clock::time_point now,
                               std::string& why) const;

  // A token for `who`, valid for `ttl` (HS256 with the secret, or RS256/ES256 with the private key).
  // Throws std::invalid_argument ("jwt-private-key: ...") when RS256/ES256 has no private key.
  std::string sign(const identity& who, std::chrono::seconds ttl,
                   std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;
  // The same, marked as a development-login token (dev_login_claim): refused by a verifier whose
  // options do not accept_dev_login_tokens.
  std::string sign_dev_login(const identity& who, std::chrono::seconds ttl,
                             std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  const jwt_options& options() const noexcept { return opts_; }

 private:
  std::string sign_token(const identity& who, std::chrono::seconds ttl, std::chrono::system_clock::time_point now,
                         bool dev_login) const;

  jwt_options opts_;
};

}  // namespace parley::auth

template <>
struct std::is_error_code_enum<parley::auth::auth_error> : std::true_type {};
