// `bpninja graph`: the autograd graph of a model's forward (verify/graph.h's GraphRun) as Graphviz DOT,
// with the notebook's names and shapes. Walks loss.grad_fn() through next_edges(); each node is the
// operation that produced a tensor. Named intermediates and parameters carry their name and shape;
// unnamed operations (the `+ 1e-5` inside bnvar_inv, a transpose) are small op nodes. A tensor that
// feeds two or more operations is a fork, where the backward pass adds gradients: it is drawn with a
// double red outline. Deterministic: nodes are numbered in breadth-first order from the loss, and
// LibTorch 1.13 and 2.6 draw the same graph (tests/docs/docs_test.cpp runs on both).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verify/graph.h"

namespace bpn::verify {

struct AutogradDot {
  std::string dot;                 // ends with a newline
  std::vector<std::string> forks;  // named tensors that feed two or more operations, in graph order
  std::uint64_t source_hash = 0;   // FNV-1a of the graph's body; written into the DOT's `comment`,
                                   // which Graphviz copies into the SVG (the freshness test reads it)
};

// `title` goes into the graph's label, e.g. "makemore MLP, chunked forward (n = 32, H = 64)".
AutogradDot autograd_dot(const GraphRun& run, const std::string& title);

// The hexadecimal form of source_hash as it appears in the DOT and the SVG ("fnv1a64:0123abcd...").
std::string source_hash_tag(std::uint64_t hash);

}  // namespace bpn::verify
