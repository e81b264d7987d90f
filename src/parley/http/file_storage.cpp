#include "parley/http/file_storage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "sio/common/random_id.hpp"

namespace parley::files {

namespace fs = std::filesystem;

namespace {

// The blocking pool's threads have no backstop: a throw there would end the process (the loops'
// io_pool::on_error does not cover them). Its tasks are ours, but a bug must cost one request,
// not the server.
template <class F>
void post_blocking(const boost::asio::any_io_executor& ex, F&& f) {
  boost::asio::post(ex, [f = std::forward<F>(f)]() mutable {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("a file task threw: {}", e.what());
    } catch (...) {
      spdlog::error("a file task threw a non-standard exception");
    }
  });
}

constexpr std::string_view temp_prefix = ".upload-";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string url_for(std::string_view file_id) { return "/api/files/" + std::string(file_id); }

std::string random_id() { return sio::random_id(18); }

std::string sanitize_name(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F || c == '"') continue;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > 255) {
    std::size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // whole code points
    out.resize(cut);
  }
  if (out.empty() || out == "." || out == "..") out = "file";
  return out;
}

std::string sanitize_content_type(std::string_view type) {
  auto is_token = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$&-^_.+").find(static_cast<char>(c)) != std::string_view::npos;
  };
  std::string_view main = type.substr(0, type.find(';'));
  while (!main.empty() && main.back() == ' ') main.remove_suffix(1);
  auto slash = main.find('/');
  bool ok = !type.empty() && type.size() <= 255 && slash != std::string_view::npos && slash > 0 &&
            slash + 1 < main.size();
  for (std::size_t i = 0; ok && i < main.size(); ++i) ok = i == slash || is_token(static_cast<unsigned char>(main[i]));
  for (unsigned char c : type) ok = ok && c >= 0x20 && c < 0x7F;
  return ok ? std::string(type) : "application/octet-stream";
}

writer::writer(fs::path dir, std::string id) : dir_(std::move(dir)), id_(std::move(id)) {
  temp_ = dir_ / (std::string(temp_prefix) + id_);
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  ok_ = fd_ >= 0;
}

writer::~writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

bool writer::write(std::string_view bytes) {
  while (ok_ && !bytes.empty()) {
    auto n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ok_ = false;
      break;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    size_ += n;
  }
  return ok_;
}

fs::path writer::finish() {
  if (!ok_ || ::fsync(fd_) != 0) return {};
  ::close(fd_);
  fd_ = -1;
  fs::path final_path = dir_ / id_;
  std::error_code ec;
  fs::rename(temp_, final_path, ec);
  if (ec) return {};
  temp_.clear();
  // The rename is durable once the directory is flushed too.
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return final_path;
}

file_storage::file_storage(boost::asio::any_io_executor blocking, fs::path dir, store& db)
    : blocking_(std::move(blocking)), dir_(std::move(dir)), db_(db) {}

void file_storage::prepare() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!ec) dir_ = fs::absolute(dir_, ec);
  if (ec || !fs::is_directory(dir_)) throw std::runtime_error("upload_dir: cannot create " + dir_.string() + ": " + ec.message());
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().filename().string().starts_with(temp_prefix)) fs::remove(e.path(), ec);
  }
}

std::unique_ptr<writer> file_storage::open_writer() const { return std::make_unique<writer>(dir_, random_id()); }

namespace {
// The record of a file whose bytes `w` wrote to `path`.
file_record record_of(const writer& w, const fs::path& path, file_info info) {
  file_record rec;
  rec.id = w.id();
  rec.name = sanitize_name(info.name);
  rec.size = w.size();
  rec.content_type = sanitize_content_type(info.content_type);
  rec.uploader_id = std::move(info.uploader_id);
  rec.storage_path = path.string();
  rec.created_at = now_ms();
  return rec;
}
}  // namespace

void file_storage::commit(std::unique_ptr<writer> w, file_info info,
                          std::function<void(sio::result<file_record>)> done) {
  auto path = w->finish();
  if (path.empty()) return done(std::make_error_code(std::errc::io_error));
  auto rec = record_of(*w, path, std::move(info));
  db_.save_file(std::move(rec), [path, done = std::move(done)](sio::result<file_record> r) {
    if (!r) {  // not recorded: not kept either
      std::error_code ec;
      fs::remove(path, ec);
    }
    done(std::move(r));
  });
}

void file_storage::async_commit(std::unique_ptr<writer> w, file_info info,
                                std::function<void(sio::result<file_record>)> done) {
  post_blocking(blocking_, [this, w = std::move(w), info = std::move(info), done = std::move(done)]() mutable {
    commit(std::move(w), std::move(info), std::move(done));
  });
}

void file_storage::write_unrecorded(std::vector<bytes_to_store> files,
                                    std::function<void(sio::result<std::vector<file_record>>)> done) {
  post_blocking(blocking_, [this, files = std::move(files), done = std::move(done)]() mutable {
    std::vector<file_record> written;
    written.reserve(files.size());
    for (auto& f : files) {
      auto w = open_writer();
      fs::path path;
      if (w->write(f.bytes)) path = w->finish();
      if (path.empty()) {  // the writer removes its temporary file; the finished ones go too
        std::error_code ec;
        for (const auto& r : written) fs::remove(r.storage_path, ec);
        return done(std::make_error_code(std::errc::io_error));
      }
      written.push_back(record_of(*w, path, std::move(f.info)));
    }
    done(std::move(written));
  });
}

void file_storage::discard_unrecorded(std::vector<file_record> files, std::function<void()> done) {
  post_blocking(blocking_, [files = std::move(files), done = std::move(done)] {
    std::error_code ec;
    for (const auto& f : files) fs::remove(f.storage_path, ec);
    done();
  });
}

void file_storage::read(file_record f, std::function<void(sio::result<std::string>)> done) {
  post_blocking(blocking_, [f = std::move(f), done = std::move(done)] {
    std::ifstream in(f.storage_path, std::ios::binary);
    if (!in) return done(std::make_error_code(std::errc::no_such_file_or_directory));
    std::string bytes;
    bytes.resize(static_cast<std::size_t>(f.size > 0 ? f.size : 0));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (static_cast<std::size_t>(in.gcount()) != bytes.size()) return done(std::make_error_code(std::errc::io_error));
    done(std::move(bytes));
  });
}

}  // namespace parley::files
