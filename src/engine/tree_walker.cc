#include "engine/tree_walker.h"

namespace pxb {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    pos = slash + 1;
  }
  return parts;
}

StatusOr<Tree> LoadTree(Repository& repo, const BlobId& id) {
  PXB_ASSIGN_OR_RETURN(Bytes blob, repo.LoadBlob(BlobType::kTree, id));
  auto tree = DecodeTree(blob);
  if (!tree.ok()) return tree.status().WithContext("tree " + id.ShortHex());
  return tree;
}

Status WalkTree(Repository& repo, const BlobId& root, const std::string& prefix, const WalkFn& fn) {
  PXB_ASSIGN_OR_RETURN(Tree tree, LoadTree(repo, root));
  for (const Node& node : tree.nodes) {
    const std::string path = prefix + "/" + node.name;
    PXB_ASSIGN_OR_RETURN(bool descend, fn(path, node));
    if (descend && node.type == NodeType::kDirectory) {
      PXB_RETURN_IF_ERROR(WalkTree(repo, node.subtree, path, fn));
    }
  }
  return Status::Ok();
}

StatusOr<Node> FindNodeAtPath(Repository& repo, const BlobId& root, std::string_view path) {
  Node current;
  current.name = "/";
  current.type = NodeType::kDirectory;
  current.mode = 0755;
  current.subtree = root;
  std::string walked;
  for (const std::string& part : SplitPath(path)) {
    if (current.type != NodeType::kDirectory) {
      return NotFoundError("'" + walked + "' is not a folder in the snapshot");
    }
    PXB_ASSIGN_OR_RETURN(Tree tree, LoadTree(repo, current.subtree));
    walked += "/" + part;
    auto it = std::lower_bound(tree.nodes.begin(), tree.nodes.end(), part,
                               [](const Node& n, const std::string& v) { return n.name < v; });
    if (it == tree.nodes.end() || it->name != part) {
      return NotFoundError("'" + walked + "' is not in the snapshot");
    }
    current = *it;
  }
  return current;
}

}  // namespace pxb
