// Reading snapshot trees: walking every node below a tree, and finding the
// node at a path.
//
//   PXB_RETURN_IF_ERROR(WalkTree(repo, snapshot.tree, "", [&](const std::string& path,
//                                 const Node& node) -> StatusOr<bool> { ...; return true; }));
//
// Thread-safety: the functions only read the repository and may run
// concurrently.
#pragma once

#include <functional>
#include <string>

#include "format/tree_format.h"
#include "repo/repository.h"

namespace pxb {

// Called for every node in depth-first name order with its full path
// ("/srv/a/b"). Return true to descend into a directory, false to skip it.
using WalkFn = std::function<StatusOr<bool>(const std::string& path, const Node& node)>;

// Walks the tree `root` whose own path is `prefix` ("" for a snapshot root).
Status WalkTree(Repository& repo, const BlobId& root, const std::string& prefix, const WalkFn& fn);

// Loads and decodes one tree blob.
StatusOr<Tree> LoadTree(Repository& repo, const BlobId& id);

// Returns the node at an absolute path inside the tree; "/" or "" gives a
// directory node named "/" whose subtree is root. kNotFound naming the
// missing component otherwise.
StatusOr<Node> FindNodeAtPath(Repository& repo, const BlobId& root, std::string_view path);

// Splits "/a/b/c" into {"a", "b", "c"}; empty components and "." are dropped.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace pxb
