#include "parley/auth/jwt.hpp"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace parley::auth {

namespace json = boost::json;

// ---------------------------------------------------------------------------- error category

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "parley.auth"; }
  std::string message(int ev) const override {
    switch (static_cast<auth_error>(ev)) {
      case auth_error::no_token: return "Authentication error: No token provided";
      case auth_error::invalid_token: return "Authentication error: Invalid token";
      case auth_error::token_expired: return "Authentication error: Token expired";
    }
    return "Authentication error";
  }
};
}  // namespace

const std::error_category& auth_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(auth_error e) noexcept { return {static_cast<int>(e), auth_category()}; }

std::string_view to_string(algorithm a) noexcept {
  switch (a) {
    case algorithm::hs256: return "HS256";
    case algorithm::rs256: return "RS256";
    case algorithm::es256: return "ES256";
  }
  return "?";
}

namespace {
bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::optional<algorithm> parse_algorithm(std::string_view name) noexcept {
  if (iequals(name, "HS256")) return algorithm::hs256;
  if (iequals(name, "RS256")) return algorithm::rs256;
  if (iequals(name, "ES256")) return algorithm::es256;
  return std::nullopt;
}

namespace {

// A real token is a few hundred bytes; this bounds the work a hostile handshake can cause.
constexpr std::size_t max_token_size = 16 * 1024;

jwt_alg_t to_libjwt(algorithm a) {
  switch (a) {
    case algorithm::hs256: return JWT_ALG_HS256;
    case algorithm::rs256: return JWT_ALG_RS256;
    case algorithm::es256: return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

// ---------------------------------------------------------------------------- base64url

int b64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool is_b64url(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return b64url_value(c) >= 0; });
}

// Strict: the URL-safe alphabet, no padding (RFC 7515 §2), no stray bits.
std::optional<std::string> b64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::optional<json::object> decode_json_object(std::string_view b64) {
  auto text = b64url_decode(b64);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<double> as_number(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: return static_cast<double>(v.get_int64());
    case json::kind::uint64: return static_cast<double>(v.get_uint64());
    case json::kind::double_:
      if (std::isfinite(v.get_double())) return v.get_double();
      return std::nullopt;
    default: return std::nullopt;
  }
}

// ---------------------------------------------------------------------------- OpenSSL keys

struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

// Never prompt on the terminal for a passphrase (OpenSSL's default): an encrypted key is refused.
int no_passphrase(char*, int, int, void*) { return -1; }

bio_ptr mem_bio(std::string_view pem) {
  return bio_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A public key in any usual PEM form: SubjectPublicKeyInfo ("PUBLIC KEY"), PKCS#1 ("RSA PUBLIC
// KEY") or a certificate.
pkey_ptr read_public_key(std::string_view pem) {
  EVP_PKEY* key = nullptr;
  {
    auto bio = mem_bio(pem);
    OSSL_DECODER_CTX* dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY,
                                                           nullptr, nullptr);
    if (dctx) {
      if (OSSL_DECODER_from_bio(dctx, bio.get()) != 1) key = nullptr;
      OSSL_DECODER_CTX_free(dctx);
    }
  }
  if (!key) {
    auto bio = mem_bio(pem);
    if (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
      key = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  return pkey_ptr(key);
}

pkey_ptr read_private_key(std::string_view pem) {
  auto bio = mem_bio(pem);
  return pkey_ptr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
}

// libjwt reads "PUBLIC KEY" / PKCS#8 PEM only: keys are handed to it in those forms.
std::string public_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) throw std::runtime_error("cannot encode a public key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string private_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw std::runtime_error("cannot encode a private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Empty when the key suits the algorithm, else why not.
std::string key_mismatch(EVP_PKEY* key, algorithm alg) {
  int type = EVP_PKEY_get_base_id(key);
  if (alg == algorithm::rs256) {
    if (type != EVP_PKEY_RSA) return "not an RSA key (RS256 needs one)";
    if (EVP_PKEY_get_bits(key) < 2048) return "RSA key shorter than 2048 bits (RFC 7518 §3.3)";
    return {};
  }
  if (alg == algorithm::es256) {
    if (type != EVP_PKEY_EC) return "not an EC key (ES256 needs one on P-256)";
    std::array<char, 64> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) != 1 ||
        OBJ_txt2nid(group.data()) != NID_X9_62_prime256v1)
      return "EC key not on the P-256 curve (ES256 needs P-256)";
    return {};
  }
  return {};
}

struct jwt_free_t {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_free_t>;

}  // namespace

// ---------------------------------------------------------------------------- jwt_verifier

jwt_verifier::jwt_verifier(jwt_options opts) : opts_(std::move(opts)) {
  if (opts_.leeway.count() < 0) throw std::invalid_argument("jwt-leeway-s: must not be negative");
  if (opts_.alg == algorithm::hs256) {
    if (opts_.secret.empty()) throw std::invalid_argument("jwt-secret: HS256 needs a secret");
    return;
  }
  const auto name = std::string(to_string(opts_.alg));
  pkey_ptr priv;
  if (!opts_.private_key_pem.empty()) {
    priv = read_private_key(opts_.private_key_pem);
    if (!priv) throw std::invalid_argument("jwt-private-key: not a PEM private key (or it is encrypted)");
    if (auto why = key_mismatch(priv.get(), opts_.alg); !why.empty())
      throw std::invalid_argument("jwt-private-key: " + why);
    opts_.private_key_pem = private_pem(priv.get());
  }
  if (opts_.public_key_pem.empty()) {
    // The private key holds the public one: a signing setup needs no second file.
    if (!priv) throw std::invalid_argument("jwt-public-key: " + name + " needs a PEM public key");
    opts_.public_key_pem = public_pem(priv.get());
    return;
  }
  pkey_ptr pub = read_public_key(opts_.public_key_pem);
  if (!pub) throw std::invalid_argument("jwt-public-key: not a PEM public key or certificate");
  if (auto why = key_mismatch(pub.get(), opts_.alg); !why.empty()) throw std::invalid_argument("jwt-public-key: " + why);
  if (priv && EVP_PKEY_eq(pub.get(), priv.get()) != 1)
    throw std::invalid_argument("jwt-private-key: does not match jwt-public-key");
  opts_.public_key_pem = public_pem(pub.get());
}

sio::result<identity> jwt_verifier::verify(std::string_view token, std::chrono::system_clock::time_point now) const {
  std::string why;
  return verify(token, now, why);
}

sio::result<identity> jwt_verifier::verify(std::string_view token, std::chrono::system_clock::time_point now,
                                           std::string& why) const {
  auto invalid = [&](std::string reason) -> sio::result<identity> {
    why = std::move(reason);
    return make_error_code(auth_error::invalid_token);
  };
  if (token.empty()) {
    why = "empty token";
    return make_error_code(auth_error::no_token);
  }
  if (token.size() > max_token_size) return invalid("token longer than 16 KiB");

  // Compact serialization: exactly three base64url parts (RFC 7515 §7.1).
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return invalid("not three dot-separated parts");
  const auto head_b64 = token.substr(0, dot1);
  const auto body_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto sig_b64 = token.substr(dot2 + 1);
  if (head_b64.empty() || body_b64.empty()) return invalid("empty header or payload");
  if (sig_b64.empty()) return invalid("unsigned token");
  if (!is_b64url(sig_b64)) return invalid("signature is not base64url");

  // The header is checked before libjwt sees the token: libjwt verifies with whatever algorithm
  // the token names, so an RS256 public key would otherwise serve as an HS256 secret.
  auto header = decode_json_object(head_b64);
  if (!header) return invalid("header is not a base64url JSON object");
  const json::value* alg = header->if_contains("alg");
  if (!alg || !alg->is_string()) return invalid("header without alg");
  const auto expected = to_string(opts_.alg);
  if (alg->get_string() != expected)
    return invalid("alg " + std::string(alg->get_string()) + " refused (only " + std::string(expected) + ")");
  if (const json::value* typ = header->if_contains("typ")) {
    if (!typ->is_string() || !iequals(typ->get_string(), "JWT")) return invalid("typ is not JWT");
  }
  // No extension is understood, so none may be critical (RFC 7515 §4.1.11).
  if (header->contains("crit")) return invalid("crit header");

  auto claims = decode_json_object(body_b64);
  if (!claims) return invalid("payload is not a base64url JSON object");

  // The signature, by libjwt, with the configured key only.
  {
    const std::string text(token);
    const std::string& key = opts_.alg == algorithm::hs256 ? opts_.secret : opts_.public_key_pem;
    jwt_t* raw = nullptr;
    int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size()));
    jwt_ptr decoded(raw);
    if (rc != 0 || !decoded) return invalid("bad signature");
    if (jwt_get_alg(decoded.get()) != to_libjwt(opts_.alg)) return invalid("alg changed under libjwt");
  }

  // Identity: userId, else sub; an id is a non-empty string.
  identity who;
  const json::value* uid = claims->if_contains("userId");
  if (uid && !uid->is_null() && !(uid->is_string() && uid->get_string().empty())) {
    if (!uid->is_string()) return invalid("userId is not a string");
    who.user_id = uid->get_string();
  } else {
    const json::value* sub = claims->if_contains("sub");
    if (!sub || !sub->is_string() || sub->get_string().empty()) return invalid("neither userId nor sub");
    who.user_id = sub->get_string();
  }
  if (const json::value* name = claims->if_contains("name"); name && !name->is_null()) {
    if (!name->is_string()) return invalid("name is not a string");
    who.name = name->get_string();
  }
  if (who.name.empty()) who.name = who.user_id;
  if (const json::value* dev = claims->if_contains(dev_login_claim); dev && !dev->is_null()) {
    if (!dev->is_bool()) return invalid(std::string(dev_login_claim) + " is not a boolean");
    if (dev->get_bool() && !opts_.accept_dev_login_tokens) return invalid("a development-login token, and dev-login is off");
  }

  if (opts_.issuer) {
    const json::value* iss = claims->if_contains("iss");
    if (!iss || !iss->is_string() || iss->get_string() != *opts_.issuer) return invalid("iss mismatch");
  }
  if (opts_.audience) {
    const json::value* aud = claims->if_contains("aud");
    bool ok = false;
    if (aud && aud->is_string()) {
      ok = aud->get_string() == *opts_.audience;
    } else if (aud && aud->is_array()) {
      ok = std::any_of(aud->get_array().begin(), aud->get_array().end(),
                       [&](const json::value& a) { return a.is_string() && a.get_string() == *opts_.audience; });
    }
    if (!ok) return invalid("aud mismatch");
  }

  // Times: NumericDate seconds, with the leeway for clock skew.
  const double now_s = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  const double leeway = static_cast<double>(opts_.leeway.count());
  std::optional<double> exp, nbf;
  for (const char* name : {"exp", "nbf", "iat"}) {
    const json::value* v = claims->if_contains(name);
    if (!v) continue;
    auto n = as_number(*v);
    if (!n) return invalid(std::string(name) + " is not a number");
    if (std::strcmp(name, "exp") == 0) exp = n;
    if (std::strcmp(name, "nbf") == 0) nbf = n;
  }
  if (nbf && *nbf > now_s + leeway) return invalid("not valid yet (nbf)");
  if (exp && now_s >= *exp + leeway) {
    why = "expired";
    return make_error_code(auth_error::token_expired);
  }
  return who;
}

std::string jwt_verifier::sign(const identity& who, std::chrono::seconds ttl,
                               std::chrono::system_clock::time_point now) const {
  return sign_token(who, ttl, now, false);
}

std::string jwt_verifier::sign_dev_login(const identity& who, std::chrono::seconds ttl,
                                         std::chrono::system_clock::time_point now) const {
  return sign_token(who, ttl, now, true);
}

std::string jwt_verifier::sign_token(const identity& who, std::chrono::seconds ttl,
                                     std::chrono::system_clock::time_point now, bool dev_login) const {
  if (who.user_id.empty()) throw std::invalid_argument("user: must not be empty");
  const std::string* key = &opts_.secret;
  if (opts_.alg != algorithm::hs256) {
    if (opts_.private_key_pem.empty())
      throw std::invalid_argument("jwt-private-key: signing " + std::string(to_string(opts_.alg)) +
                                  " tokens needs the private key");
    key = &opts_.private_key_pem;
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || !raw) throw std::runtime_error("jwt: out of memory");
  jwt_ptr j(raw);
  const long iat = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  const std::string& name = who.name.empty() ? who.user_id : who.name;
  int rc = 0;
  rc |= jwt_add_grant(j.get(), "userId", who.user_id.c_str());
  rc |= jwt_add_grant(j.get(), "sub", who.user_id.c_str());
  rc |= jwt_add_grant(j.get(), "name", name.c_str());
  rc |= jwt_add_grant_int(j.get(), "iat", iat);
  rc |= jwt_add_grant_int(j.get(), "exp", iat + static_cast<long>(ttl.count()));
  if (opts_.issuer) rc |= jwt_add_grant(j.get(), "iss", opts_.issuer->c_str());
  if (opts_.audience) rc |= jwt_add_grant(j.get(), "aud", opts_.audience->c_str());
  if (dev_login) rc |= jwt_add_grant_bool(j.get(), dev_login_claim, 1);
  rc |= jwt_set_alg(j.get(), to_libjwt(opts_.alg), reinterpret_cast<const unsigned char*>(key->data()),
                    static_cast<int>(key->size()));
  if (rc != 0) throw std::runtime_error("jwt: cannot build the token");
  char* out = jwt_encode_str(j.get());
  if (!out) throw std::runtime_error("jwt: cannot sign the token");
  std::string token(out);
  std::free(out);
  return token;
}

}  // namespace parley::auth
