#include "engine/page_dictionary.h"

#include <algorithm>

namespace pxb {
namespace {

// The dictionary of the first chunks of the parent version that have one.
std::shared_ptr<const BlobDictionary> ParentDictionary(const Repository& repo, const Node& parent) {
  int looked = 0;
  for (const Extent& extent : parent.extents) {
    for (const BlobId& id : extent.chunks) {
      if (++looked > 16) return nullptr;
      auto location = repo.FindBlob(id);
      if (!location || location->blob.dictionary == 0) continue;
      auto dictionary = repo.DictionaryOf(*location);
      // A dictionary that cannot be read now is trained anew, not fatal.
      if (dictionary.ok()) return *dictionary;
    }
  }
  return nullptr;
}

}  // namespace

std::shared_ptr<const BlobDictionary> ReusablePageDictionary(const Repository& repo,
                                                             const Node* parent_node,
                                                             uint64_t file_size, size_t chunk_size,
                                                             const PageDictionaryOptions& options) {
  if (file_size < options.min_file_size || chunk_size == 0 || parent_node == nullptr) {
    return nullptr;
  }
  return ParentDictionary(repo, *parent_node);
}

namespace {

// How many chunks TrainPageDictionary samples.
size_t SampleCount(uint64_t chunks, const PageDictionaryOptions& options) {
  return static_cast<size_t>(
      std::clamp<uint64_t>(chunks / 32, options.min_samples, options.max_samples));
}

}  // namespace

bool PageDictionaryWouldTrain(uint64_t file_size, size_t chunk_size,
                              const PageDictionaryOptions& options) {
  if (file_size < options.min_file_size || chunk_size == 0) return false;
  const uint64_t chunks = file_size / chunk_size;
  return chunks >= SampleCount(chunks, options);
}

StatusOr<std::shared_ptr<const BlobDictionary>> TrainPageDictionary(
    const Repository& repo, uint64_t file_size, size_t chunk_size, const ReadAt& read_at,
    const PageDictionaryOptions& options, const AskAhead& ask_ahead) {
  if (!PageDictionaryWouldTrain(file_size, chunk_size, options)) return nullptr;
  const uint64_t chunks = file_size / chunk_size;
  const size_t count = SampleCount(chunks, options);
  // Samples evenly spread over the file.
  auto sample_offset = [&](size_t i) -> uint64_t { return i * chunks / count * chunk_size; };
  if (ask_ahead) {
    for (size_t i = 0; i < count; ++i) ask_ahead(sample_offset(i), chunk_size);
  }
  Bytes samples(count * chunk_size);
  std::vector<size_t> sizes(count, chunk_size);
  for (size_t i = 0; i < count; ++i) {
    PXB_RETURN_IF_ERROR(
        read_at(sample_offset(i), std::span(samples).subspan(i * chunk_size, chunk_size)));
  }
  // zstd suggests samples of about 100 times the dictionary's size; on
  // database pages an eighth compressed better than a sixteenth, and more
  // samples cost training time the backup waits for.
  const size_t capacity =
      std::clamp<size_t>(samples.size() / 8, 16 * 1024, options.max_dictionary_size);
  auto trained = ZstdDictionary::Train(samples, sizes, capacity);
  if (!trained.ok()) return nullptr;  // nothing to learn: compress without one
  return std::make_shared<const BlobDictionary>(repo.MakeBlobDictionary(*std::move(trained)));
}

StatusOr<std::shared_ptr<const BlobDictionary>> ChoosePageDictionary(
    const Repository& repo, const Node* parent_node, uint64_t file_size, size_t chunk_size,
    const ReadAt& read_at, const PageDictionaryOptions& options) {
  if (auto reused = ReusablePageDictionary(repo, parent_node, file_size, chunk_size, options)) {
    return reused;
  }
  return TrainPageDictionary(repo, file_size, chunk_size, read_at, options);
}

}  // namespace pxb
