#pragma once
// Uploaded files on disk: the bytes under the upload directory (named by a random id, never by
// the client's file name), the metadata in the store. A file is written to a temporary name,
// flushed, then renamed, so an interrupted or refused upload leaves nothing behind; the record
// is saved only after the bytes are in place.
//
//   file_storage files(blocking_pool.get_executor(), "uploads", store);
//   auto w = files.open_writer();                  // an upload's body, as it arrives:
//   w->write(bytes);                               //   small writes, fine on an event loop
//   files.async_commit(std::move(w), {.name = "a.png", .content_type = "image/png", .uploader_id = "alice"},
//                      [](sio::result<parley::file_record> r) { ... });  // fsync, rename: on the pool
//   // dropping `w` instead (the client went away) removes the temporary file
//
// The slow disk I/O (fsync, rename, whole files) runs on the executor given (a thread pool), never
// on an event loop.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "parley/store/store.hpp"
#include "sio/common/result.hpp"

namespace parley::files {

// Where a file is downloaded.
std::string url_for(std::string_view file_id);
// A random id from the OS CSPRNG (144 bits, 24 url-safe characters).
std::string random_id();
// The uploaded name made safe as metadata and for Content-Disposition: the last path
// component, no control characters, at most 255 bytes; "file" when nothing is left.
std::string sanitize_name(std::string_view name);
// A syntactically valid `type/subtype` (parameters kept), else application/octet-stream.
std::string sanitize_content_type(std::string_view type);

// The bytes of one file on their way to disk. Removes its temporary file unless committed.
class writer {
 public:
  writer(std::filesystem::path dir, std::string id);
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  bool write(std::string_view bytes);  // false on an I/O error (then and ever after)
  bool ok() const noexcept { return ok_; }
  // Flushes to disk and moves the file to its final name; returns that path (empty on error).
  std::filesystem::path finish();
  const std::string& id() const noexcept { return id_; }
  std::int64_t size() const noexcept { return size_; }

 private:
  std::filesystem::path dir_;
  std::string id_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::int64_t size_ = 0;
  bool ok_ = true;
};

struct file_info {
  std::string name;
  std::string content_type;
  std::string uploader_id;
};

class file_storage {
 public:
  file_storage(boost::asio::any_io_executor blocking, std::filesystem::path dir, store& db);

  // Creates the upload directory (and removes temporary files an earlier crash left behind).
  // Throws std::runtime_error naming it when it cannot.
  void prepare();

  const std::filesystem::path& dir() const noexcept { return dir_; }
  store& db() noexcept { return db_; }
  const boost::asio::any_io_executor& blocking() const noexcept { return blocking_; }

  std::unique_ptr<writer> open_writer() const;
  // Finishes the writer (blocking: call on the blocking executor) and records the file; done
  // runs on a store thread, or on the calling thread when the disk failed.
  void commit(std::unique_ptr<writer> w, file_info info, std::function<void(sio::result<file_record>)> done);
  // commit() on the blocking executor; done as for commit().
  void async_commit(std::unique_ptr<writer> w, file_info info, std::function<void(sio::result<file_record>)> done);

  // Files that come inside a message (Socket.IO binary attachments): written to disk (flushed,
  // under their final names) on the blocking executor but NOT recorded, so that the store records
  // them with the message, in the same atomic unit (new_message::new_files), or not at all.
  // done(their records, in order) runs on the blocking executor; after a failure nothing of them
  // is left on disk.
  struct bytes_to_store {
    std::shared_ptr<const void> owner;  // keeps `bytes` alive
    std::string_view bytes;
    file_info info;
  };
  void write_unrecorded(std::vector<bytes_to_store> files,
                        std::function<void(sio::result<std::vector<file_record>>)> done);
  // Removes the bytes of files that write_unrecorded wrote and the store did not record (the
  // message was refused), on the blocking executor; then calls done there.
  void discard_unrecorded(std::vector<file_record> files, std::function<void()> done);

  // Reads a stored file's bytes on the blocking executor; done runs there.
  void read(file_record f, std::function<void(sio::result<std::string>)> done);

 private:
  boost::asio::any_io_executor blocking_;
  std::filesystem::path dir_;
  store& db_;
};

}  // namespace parley::files
