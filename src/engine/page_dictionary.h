// The zstd dictionary for a file cut into page chunks (a SQLite database):
// 8 KiB pieces compress far less well on their own than in 512 KiB chunks,
// and a dictionary of what the pages share wins that back (doc/design.md
// section 16).
//
//   PXB_ASSIGN_OR_RETURN(auto dictionary,
//                        ChoosePageDictionary(repo, parent_node, size, chunk_size, read_at));
//   repo.SaveBlob(BlobType::kData, chunk, level, dictionary.get());
//
// Thread-safety: these may run concurrently with any Repository method;
// `read_at` is called on the calling thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "format/tree_format.h"
#include "repo/repository.h"

namespace pxb {

struct PageDictionaryOptions {
  uint64_t min_file_size = 4 << 20;  // smaller files: no dictionary (it would cost more)
  size_t min_samples = 64;
  size_t max_samples = 512;
  // Pages compressed 64 to a frame share context with each other: a larger
  // dictionary wins less than its copy in each pack costs, a smaller one
  // loses more (doc/performance.md, run T).
  size_t max_dictionary_size = 128 * 1024;
};

// Reads `out.size()` bytes at `offset` of the file.
using ReadAt = std::function<Status(uint64_t offset, std::span<std::byte> out)>;
// Tells the file that `length` bytes at `offset` will be read soon (a hint,
// such as ReadAhead in core/file_io.h).
using AskAhead = std::function<void(uint64_t offset, uint64_t length)>;

// The parent version's dictionary if its chunks were compressed with one, so
// that a frequently backed-up database keeps one dictionary and each new
// pack only copies it; otherwise one trained on chunks sampled evenly across
// the file. nullptr for a file below min_file_size, or when zstd finds
// nothing to learn. Errors only when reading the file fails.
StatusOr<std::shared_ptr<const BlobDictionary>> ChoosePageDictionary(
    const Repository& repo, const Node* parent_node, uint64_t file_size, size_t chunk_size,
    const ReadAt& read_at, const PageDictionaryOptions& options = {});

// The two halves of ChoosePageDictionary. ReusablePageDictionary: the
// parent version's, or nullptr (a file below min_file_size gets none
// anyway). TrainPageDictionary: one trained on the file, the costly part
// (0.06 s for a 127 MB database), which the caller may run on a worker;
// given `ask_ahead`, it announces every sample before it reads the first,
// so that a file on disk is read in one sweep, not one sample at a time.
// Whether TrainPageDictionary would train one (else it returns nullptr at
// once): the file is large enough and has enough chunks to sample.
bool PageDictionaryWouldTrain(uint64_t file_size, size_t chunk_size,
                              const PageDictionaryOptions& options = {});
std::shared_ptr<const BlobDictionary> ReusablePageDictionary(
    const Repository& repo, const Node* parent_node, uint64_t file_size, size_t chunk_size,
    const PageDictionaryOptions& options = {});
StatusOr<std::shared_ptr<const BlobDictionary>> TrainPageDictionary(
    const Repository& repo, uint64_t file_size, size_t chunk_size, const ReadAt& read_at,
    const PageDictionaryOptions& options = {}, const AskAhead& ask_ahead = {});

}  // namespace pxb
