// Backend: where a repository's objects live (a local folder, an S3 bucket,
// memory, or a decorator over other backends such as retry, fault injection
// or erasure coding over several targets).
//
// A backend is a flat store of immutable named objects. Names follow
// doc/repository_format.md section 1: the same name always means the same
// bytes, so every write is idempotent and a repeated Put carries the same
// bytes. Every implementation passes the conformance suite in
// src/storage/testing/backend_conformance.h.
//
//   PXB_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend("/srv/repo"));
//   PXB_RETURN_IF_ERROR(backend->Put("snapshots/" + hex, bytes));
//
// Thread-safety: every implementation must be safe for concurrent use from
// many threads and from several processes sharing the same store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/staged_bytes.h"
#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
};

// Passed as Get's length to read from the offset to the end of the object.
inline constexpr uint64_t kWholeObject = UINT64_MAX;

// A caller's buffer that Backend::Read fills, kept from one read to the
// next. A reader of many objects (restore, check) then writes into the same
// pages every time instead of into fresh ones, which the kernel must
// allocate and zero, and the storage is aligned for direct I/O.
//
//   ReadBuffer buffer;
//   PXB_ASSIGN_OR_RETURN(ByteView pack, backend.Read(name, 0, kWholeObject, buffer));
//   // `pack` stays valid until the next read into `buffer`.
//
// Thread-safety: none; one buffer per thread.
class ReadBuffer {
 public:
  static constexpr size_t kAlignment = 4096;

  ReadBuffer() = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  // Storage for at least `n` bytes, aligned to kAlignment, its content
  // unspecified. Invalidates views of earlier reads. Grows, never shrinks.
  MutableByteView Prepare(size_t n);
  // Keeps bytes that were read elsewhere and returns a view of them.
  ByteView Adopt(Bytes bytes);

 private:
  PageBytes aligned_;
  Bytes adopted_;
};

// An object written at offsets and stored under its name once complete: a
// pack, whose name is the hash of its bytes, is built in one instead of in
// memory. Destroyed before a successful Commit, it leaves nothing behind.
class StagedObject : public StagedBytes {
 public:
  // Stores the bytes written so far under `name` as Backend::Put would
  // (atomic, durable when it returns OK). A failed Commit may be retried
  // unless the bytes themselves could not be made durable, which it keeps
  // reporting. After success the object is spent.
  virtual Status Commit(std::string_view name) = 0;
};

// Every method validates names with ValidateObjectName and returns
// kInvalidArgument for a bad one before touching the store. Error messages
// start with Location() and name the operation and the object, e.g.
// "file:///srv/repo: put data/ab/abcd...: No space left on device".
// kUnavailable marks a transient failure that may be retried.
class Backend {
 public:
  virtual ~Backend() = default;

  // Where the objects are, e.g. "file:///srv/repo" or "mem:test"; for
  // messages only.
  virtual std::string Location() const = 0;

  // Creates the backend's layout (its folder, bucket prefix, ...) if missing;
  // creating an existing empty layout succeeds. Returns kAlreadyExists if
  // `exclusive` and objects exist already (an existing repository), or the
  // error that prevented creating the layout.
  virtual Status Create(bool exclusive) = 0;

  // Stores `data` under `name` atomically: readers see the whole object or
  // nothing, never a torn one, also after a crash. Success means the object
  // is durable. Idempotent: putting the same bytes again succeeds. Returns
  // kInvalidArgument for a bad name, kResourceExhausted when the store is
  // full, kUnavailable for transient failures. A failed Put leaves no torn
  // object under `name`.
  virtual Status Put(std::string_view name, ByteView data) = 0;

  // Returns bytes [offset, offset + length) of an object; length kWholeObject
  // reads to the end. Returns kNotFound if the object is missing and
  // kOutOfRange if the range ends beyond the object (a zero-length read at
  // the end succeeds). Idempotent; the caller owns the returned bytes.
  virtual StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                              uint64_t length = kWholeObject) = 0;

  // Get into a buffer the caller keeps: the returned view of the bytes stays
  // valid until the next read into `buffer`. Same codes as Get. Backends
  // that can read in place (the local one) override it; the others Get.
  virtual StatusOr<ByteView> Read(std::string_view name, uint64_t offset, uint64_t length,
                                  ReadBuffer& buffer);

  // A new staged object, or nullptr where objects can only be put whole
  // (the caller then builds them in memory). The local backend stages in
  // its tmp/ folder (see LocalBackend::Stage).
  virtual StatusOr<std::unique_ptr<StagedObject>> Stage() {
    return std::unique_ptr<StagedObject>();
  }

  // Returns the name and size of an object; kNotFound if it is missing.
  virtual StatusOr<ObjectInfo> Stat(std::string_view name) = 0;

  // Calls fn once for every object whose name starts with `prefix` (e.g.
  // "data/", "snapshots/", or "" for all), in no particular order. Returns OK
  // when every call returned OK, otherwise stops and returns fn's error.
  // Temporary objects of an unfinished Put are never listed; objects put or
  // deleted while listing may or may not be listed. A prefix that matches
  // nothing is not an error. kInvalidArgument if `prefix` has characters a
  // name cannot have. fn may call back into the backend.
  virtual Status List(std::string_view prefix,
                      const std::function<Status(const ObjectInfo&)>& fn) = 0;

  // Removes an object. Returns OK once it is gone, kNotFound if it did not
  // exist.
  virtual Status Delete(std::string_view name) = 0;

  // Removes what unfinished Puts of killed processes left behind (temporary
  // files, abandoned uploads) that was last written before `cutoff_ns` (ns
  // since the Unix epoch). Returns how many were removed. Backends that
  // leave nothing behind return 0.
  virtual StatusOr<uint64_t> RemoveStaleTemporaries(int64_t cutoff_ns) {
    (void)cutoff_ns;
    return uint64_t{0};
  }

 protected:
  // The prefix of error messages: "<Location()>: <op> <name>".
  std::string Context(std::string_view op, std::string_view name) const;
};

// Checks an object name: '/'-separated relative segments of [a-z0-9._-],
// none empty, "." or "..", and not under the reserved "tmp/" where backends
// keep temporary objects. Returns OK or kInvalidArgument naming the fault.
Status ValidateObjectName(std::string_view name);

// Checks a List prefix: "" or a name prefix whose complete segments are
// valid (e.g. "data/", "data/a"). Returns OK or kInvalidArgument.
Status ValidateObjectPrefix(std::string_view prefix);

// Opens a backend from a URL: a bare path or file:///absolute/path opens a
// LocalBackend (nothing is created until Create or Put);
// s3:http(s)://host:port/bucket[/prefix] opens an S3Backend with region and
// credentials from the environment (AWS_*); mem:NAME opens a MemBackend
// whose objects are shared by every backend opened with the same NAME in
// this process (for tests). Returns kInvalidArgument naming the URL
// and the accepted forms for anything else.
StatusOr<std::unique_ptr<Backend>> OpenBackend(std::string_view url);

}  // namespace pxb
